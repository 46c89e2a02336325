"""Which MiniLM path embeds papers fastest on this CPU, chosen by measurement and remembered per CPU.

A CPU's flags do not say which path is fastest: OpenVINO's int8 model is 6x the float32 path on a CPU with AMX
and barely faster than it on an AVX2-only one, where ONNX Runtime's int8 kernels do better. So the first time
MiniLM is loaded on a CPU (and again whenever the CPU model, its relevant flags, the weights or the engines'
versions change), :func:`fastest` times each available path on a few shipped demo abstracts and keeps the
fastest whose vectors agree with float32 (min cosine >= ``MIN_COSINE`` over the texts and a query alone).
The choice, with every path's figures, is kept in ``<model cache>/embedding-path.json``;
:func:`embedding_path` reads it back without loading any model (for ``paperfeed status`` and ``index``).

Calibration runs where MiniLM is loaded with no valid choice on file: the index writer (``paperfeed index``,
a server's upkeep thread) or a searcher opening its indexes, never a request, which only calls ``encode``.
Several processes never calibrate at once (a file lock; the others read the choice it writes).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.config import Settings
from paperfeed.search.embed import Embedder

log = logging.getLogger(__name__)

CHOICE_FILE = "embedding-path.json"
FORMAT = 1  # version of the choice file; another one is measured again
MIN_COSINE = 0.99  # a path must agree this well with float32 on every calibration text to be chosen
TEXTS = 32  # shipped demo abstracts timed per path: two batches of 16, one of 32
WARM_UP = 17  # texts embedded before timing: more than one batch of 16
QUERY = "graph neural networks for molecular property prediction"
RELEVANT_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8", "amx_bf16")


@dataclass(frozen=True)
class Candidate:
    """One way to run MiniLM: an engine and precision (``path``), texts per batch, batches run at once
    (``workers``) and threads per batch (``threads``; 0: the engine's own choice); ``make`` builds it."""

    path: str
    batch: int
    workers: int
    threads: int
    make: Callable[[], Embedder]

    def config(self) -> dict[str, Any]:
        return {"path": self.path, "batch": self.batch, "workers": self.workers, "threads": self.threads}


@dataclass
class Trial:
    """What calibration measured for one candidate: papers/s, one query's ms, its agreement with float32, or
    why it could not run."""

    path: str
    batch: int
    workers: int
    threads: int
    papers_per_s: float | None = None
    query_ms: float | None = None
    min_cosine: float | None = None
    error: str | None = None

    @property
    def agrees(self) -> bool:
        return self.error is None and self.min_cosine is not None and self.min_cosine >= MIN_COSINE


def cpu_info() -> dict[str, Any]:
    """``{"cpu": model name, "cpu_flags": [the flags that decide the fast paths]}`` (Linux: /proc/cpuinfo)."""
    model, flags = "", set[str]()
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    model = model or platform.processor() or platform.machine()
    return {"cpu": model, "cpu_flags": [f for f in RELEVANT_FLAGS if f in flags]}


def calibration_texts(count: int = TEXTS) -> list[str]:
    """The first ``count`` shipped demo abstracts, as papers are embedded."""
    from paperfeed.search.minilm_int8 import _calibration_texts

    return _calibration_texts()[:count]


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return -1.0
    return float(np.min(np.sum(a * b, axis=1)))


def measure(
    candidate: Candidate, texts: list[str], expected: np.ndarray, query: np.ndarray, reference: Embedder
) -> tuple[Trial, Any]:
    """Time ``candidate`` on ``texts`` and on one query, after a warm-up on the first ``WARM_UP`` texts (more
    than a batch: compiles and allocates what a run of batches needs). Its vectors of every text and of the
    query alone are compared with ``expected`` and ``query`` (float32). ``reference`` itself is warm already."""
    trial = Trial(**candidate.config())
    try:
        model = candidate.make()
        if model is not reference:
            model.encode(texts[:WARM_UP])
        alone = model.encode_queries([QUERY])
        started = time.perf_counter()
        got = model.encode(texts)
        trial.papers_per_s = round(len(texts) / max(time.perf_counter() - started, 1e-9), 1)
        trial.min_cosine = round(min(_min_cosine(expected, got), _min_cosine(query, alone)), 5)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            model.encode_queries([QUERY])
            times.append(time.perf_counter() - started)
        trial.query_ms = round(1000 * sorted(times)[1], 2)
    except Exception as exc:  # noqa: BLE001 - a path that cannot run here is simply not chosen
        trial.error = f"{type(exc).__name__}: {exc}"
        return trial, None
    return trial, model


def calibrate(
    reference: Embedder, candidates: Sequence[Candidate], texts: list[str]
) -> tuple[Candidate, Embedder, list[Trial]]:
    """The fastest candidate whose vectors agree with ``reference`` (float32), its model, and every trial.

    When none agrees (or none runs), ``reference`` is returned under the first candidate, which the caller
    makes the float32 reference itself."""
    expected, query = reference.encode(texts), reference.encode_queries([QUERY])
    best: tuple[Candidate, Any, Trial] | None = None
    trials = []
    for candidate in candidates:
        trial, model = measure(candidate, texts, expected, query, reference)
        trials.append(trial)
        if trial.agrees and (best is None or (trial.papers_per_s or 0) > (best[2].papers_per_s or 0)):
            best = (candidate, model, trial)
        del model  # only the winner is kept in memory
    if best is None:
        return candidates[0], reference, trials
    return best[0], best[1], trials


def read_choice(file: Path) -> dict[str, Any] | None:
    """The choice on file, or None when there is none or it cannot be read (it is measured again)."""
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("choice"), dict):
        return None
    return data


def _write_choice(file: Path, data: dict[str, Any]) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f"{file.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(file)


def _valid(data: dict[str, Any] | None, key: str, cpu: dict[str, Any]) -> bool:
    return (
        data is not None
        and data.get("key") == key
        and data.get("cpu") == cpu["cpu"]
        and data.get("cpu_flags") == cpu["cpu_flags"]
    )


def _cached_model(data: dict[str, Any], candidates: Sequence[Candidate]) -> tuple[Candidate, Embedder] | None:
    for candidate in candidates:
        if candidate.config() == {k: data["choice"].get(k) for k in ("path", "batch", "workers", "threads")}:
            try:
                return candidate, candidate.make()
            except Exception as exc:  # noqa: BLE001 - e.g. a removed model folder: measured again
                log.warning("the cached embedding path %s cannot be loaded (%s); measuring again", candidate.path, exc)
                return None
    return None


def fastest(
    *,
    file: Path,
    key: str,
    reference: Callable[[], Embedder],
    candidates: Sequence[Candidate],
    texts: list[str] | None = None,
    cpu: dict[str, Any] | None = None,
    say: Callable[[str], None] = log.info,
) -> tuple[Embedder, dict[str, Any]]:
    """The embedder of the path chosen for this CPU and ``key`` (weights and engine versions), and the choice.

    The choice on ``file`` is used when it names this CPU model, its relevant flags and ``key``; otherwise
    (none, unreadable, another CPU, a path that no longer loads) the candidates are measured again under a
    file lock and the result written there."""
    from paperfeed.search.sync import file_lock

    cpu = cpu or cpu_info()
    data = read_choice(file)
    if _valid(data, key, cpu) and data is not None and (found := _cached_model(data, candidates)):
        return found[1], data
    file.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(file.with_name(file.name + ".lock"), True):
        before, data = data, read_choice(file)  # another process may have measured meanwhile
        if (
            data != before
            and _valid(data, key, cpu)
            and data is not None
            and (found := _cached_model(data, candidates))
        ):
            return found[1], data
        texts = texts or calibration_texts()
        say(f"measuring the MiniLM paths on this CPU ({cpu['cpu']}, {len(candidates)} to try, once per CPU)...")
        started = time.perf_counter()
        chosen, model, trials = calibrate(reference(), candidates, texts)
        by_config = {(t.path, t.batch, t.workers, t.threads): t for t in trials}
        trial = by_config[(chosen.path, chosen.batch, chosen.workers, chosen.threads)]
        data = {
            "format": FORMAT,
            "key": key,
            **cpu,
            "choice": {**chosen.config(), "papers_per_s": trial.papers_per_s, "query_ms": trial.query_ms},
            "trials": [asdict(t) for t in trials],
            "texts": len(texts),
            "seconds": round(time.perf_counter() - started, 1),
            "at": time.time(),
        }
        _write_choice(file, data)
        say(
            f"MiniLM runs as {chosen.path} (batch {chosen.batch}, {chosen.workers} x {chosen.threads} threads): "
            f"{trial.papers_per_s} papers/s here; measured in {data['seconds']}s: "
            + ", ".join(f"{t.path}/{t.batch}/{t.workers}x{t.threads} {_figure(t)}" for t in trials)
        )
    return model, data


def _figure(trial: Trial) -> str:
    if trial.error:
        return "unavailable"
    if not trial.agrees:
        return f"disagrees (cosine {trial.min_cosine})"
    return f"{trial.papers_per_s}/s"


def choice_file(settings: Settings) -> Path:
    """Where the choice is kept: beside the derived models (``PAPERFEED_MODEL_CACHE_DIR`` or the user cache),
    since it describes this machine, not the data."""
    from paperfeed.search.minilm_int8 import model_cache

    return model_cache(settings.model_cache_dir) / CHOICE_FILE


def embedding_path(settings: Settings) -> dict[str, Any] | None:
    """The MiniLM path chosen on this machine, read from the choice file without loading any model:
    ``{"path", "batch", "workers", "threads", "papers_per_s", "query_ms", "cpu", "cpu_flags",
    "calibrated_at", "current"}``; ``current`` is False when the file was measured on another CPU (it is
    measured again when MiniLM is next loaded). None before the first measurement."""
    data = read_choice(choice_file(settings))
    if data is None:
        return None
    here = cpu_info()
    return {
        **data["choice"],
        "cpu": data.get("cpu"),
        "cpu_flags": data.get("cpu_flags"),
        "calibrated_at": _when(data.get("at")),
        "current": data.get("cpu") == here["cpu"] and data.get("cpu_flags") == here["cpu_flags"],
    }


def _when(at: Any) -> str | None:
    """A measurement's time as ISO 8601 (UTC), for people and JSON alike."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(float(at), UTC).isoformat(timespec="seconds") if isinstance(at, int | float) else None

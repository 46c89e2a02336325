"""all-MiniLM-L6-v2, on the fastest path that keeps its quality. :func:`load_minilm` picks it: on a CPU the path
measured fastest on this CPU (``calibration.py``) among the int8 model made with OpenVINO
(``minilm_int8.py``: the fast one on CPUs with AMX or AVX-512 VNNI), the int8 model for ONNX Runtime
(``minilm_onnx.py``: the fast one on AVX2-only CPUs) and this module's torch model (sentence-transformers):

- CUDA (``device="cuda"``): float16 weights, large batches.
- A CPU with native bfloat16 (Intel AMX or AVX512-BF16): bfloat16 weights, batches of 16 texts of similar
  length (little padding), one worker thread per core each running torch on one thread.
- Any other CPU: float32, batched the same way.

A lower precision is used only after checking it on a few texts against float32 (``MIN_COSINE``); the vectors
agree to a cosine of 0.9999, so they share the float32 fingerprint and an index never needs re-embedding
because the machine changed. Texts are cut at ``MAX_TOKENS`` word pieces. Throughput and quality against the
former path (float32, 256 word pieces): docs/decisions.md, "Embeddings at scale" and "One embedding path per
CPU, chosen by measurement". Loaded from a local folder only.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from paperfeed.search.embed import Embedder, EmbedderError, _fingerprint, _normalise, _require_ml

if TYPE_CHECKING:
    from paperfeed.search import calibration

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
WEIGHT_FILES = ("config.json", "modules.json", "tokenizer.json", "model.safetensors")
CHECK_TEXTS = (
    "Attention is all you need.",
    "Graph neural networks for molecular property prediction: a survey of message passing architectures.",
    "We study the convergence of stochastic gradient descent with momentum on non-convex objectives " * 12,
    "Photosynthesis in C4 plants concentrates CO2 around RuBisCO.",
)
# Word pieces read per text: 192 instead of the model card's 256 costs nothing measurable (hybrid nDCG@10
# SciFact train +0.0002, Cranfield -0.0007, CISI +0.0032; 128 loses 0.0095 on SciFact) and saves a quarter of
# the work on abstracts. Part of the fingerprint, so vectors made with another length are never mixed.
MAX_TOKENS = 192
MIN_COSINE = 0.999  # a reduced precision must agree this well with float32 on CHECK_TEXTS
BATCH = {"float32": 64, "bfloat16": 16, "float16": 128}  # measured best per precision (decisions.md)


def cpu_has_native_bf16() -> bool:
    """True on x86 CPUs whose flags include AMX-BF16 or AVX512-BF16 (Linux: /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


def _nvidia_driver() -> bool:
    """Whether an NVIDIA driver could offer a CUDA GPU: False only where it certainly cannot (Linux without
    the driver's files, macOS); elsewhere torch is asked."""
    if sys.platform == "darwin":
        return False
    if sys.platform.startswith("linux"):
        return Path("/proc/driver/nvidia").exists() or any(Path("/dev").glob("nvidia*"))
    return True


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a CUDA GPU is usable, else ``cpu``; ``cuda`` without one is an error."""
    if device not in DEVICES:
        raise EmbedderError(f"unknown device {device!r}; choose one of: {', '.join(DEVICES)}")
    if device == "cpu" or (device == "auto" and not _nvidia_driver()):
        return "cpu"  # no NVIDIA driver: no CUDA GPU, known without importing torch (seconds of a query)
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise EmbedderError("--device cuda: no CUDA GPU is usable here (torch.cuda.is_available() is False)")
    return "cpu"


def minilm_fingerprint(path: Path) -> str:
    """Names the weights and the word-piece cut of the float32/bfloat16/float16 vectors of ``path``."""
    _require_ml()
    return f"minilm-{_fingerprint(path, WEIGHT_FILES)}-t{MAX_TOKENS}"


def _cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on ``device`` ("auto", "cpu" or "cuda"); ``precision`` "auto" picks as above."""

    name = "minilm"

    def __init__(self, path: Path, *, device: str = "cpu", precision: str = "auto") -> None:
        _require_ml()
        from sentence_transformers import SentenceTransformer

        self.device = resolve_device(device)
        self.workers = 1 if self.device == "cuda" else _cores()
        self._tokenizer_lock = threading.Lock()
        try:
            self._model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear message
            raise EmbedderError(f"cannot load MiniLM from {path}: {exc}") from exc
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 384)
        self._model.max_seq_length = MAX_TOKENS
        # sentence-transformers >= 6 calls it preprocess (tokenize is deprecated there)
        self._prepare = getattr(self._model, "preprocess", None) or self._model.tokenize
        self.fingerprint = minilm_fingerprint(path)
        self.precision = "float32"
        wanted = self._wanted(precision)
        if wanted != "float32":
            self._reduce(wanted)

    def _wanted(self, precision: str) -> str:
        if precision != "auto":
            return precision
        if self.device == "cuda":
            return "float16"
        return "bfloat16" if cpu_has_native_bf16() else "float32"

    def _reduce(self, precision: str) -> None:
        """Switch the weights to ``precision`` if it agrees with float32 on CHECK_TEXTS; else stay float32."""
        import torch

        reference = self.encode(list(CHECK_TEXTS))
        self._model.to(getattr(torch, precision))
        self.precision = precision
        worst = float(np.min(np.sum(reference * self.encode(list(CHECK_TEXTS)), axis=1)))
        if worst < MIN_COSINE:
            self._model.to(torch.float32)
            self.precision = "float32"
            line = f"warning: MiniLM in {precision} disagrees with float32 (cosine {worst:.4f}); using float32"
            log.warning(line)
            print(line, file=sys.stderr)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Vectors of ``texts`` in order: batches of similar length, on the CPU spread over one worker thread
        per core, each running torch on one thread (measured faster than one batch on all cores)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        size = batch_size or BATCH[self.precision]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[start : start + size] for start in range(0, len(order), size)]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if self.workers <= 1 or len(batches) == 1:
            for rows in batches:
                out[rows] = self._batch([texts[i] for i in rows])
            return _normalise(out)
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(self.workers) as pool:  # torch releases the GIL while it computes
                done = pool.map(lambda rows: self._batch([texts[i] for i in rows]), batches)
                for rows, vectors in zip(batches, done, strict=True):
                    out[rows] = vectors
        finally:
            torch.set_num_threads(before)
        return _normalise(out)

    def _batch(self, texts: list[str]) -> np.ndarray:
        import torch

        with self._tokenizer_lock:  # a fast tokenizer must not be configured by two threads at once
            features = self._prepare(texts)
        features = {key: v.to(self.device) if isinstance(v, torch.Tensor) else v for key, v in features.items()}
        with torch.inference_mode():
            vectors = self._model(features)["sentence_embedding"]
        return vectors.float().cpu().numpy()


def load_minilm(path: Path, *, device: str = "auto", model_cache_dir: str = "") -> Embedder:
    """The fastest MiniLM-quality embedder here. On CUDA: torch in float16. On a CPU: the path measured fastest
    on this CPU among OpenVINO int8, ONNX Runtime int8 and torch (float32, bfloat16 where native), each in a
    few batch and thread settings, keeping only those whose vectors agree with float32 (``calibration.py``;
    measured once per CPU, remembered in the model cache). An int8 model that cannot be made is left out
    with a ``warning:`` line on stderr and in the log."""
    from paperfeed.search import calibration
    from paperfeed.search import minilm_int8 as int8

    if resolve_device(device) != "cpu":
        return MiniLMEmbedder(path, device=device)
    cache = int8.model_cache(model_cache_dir)
    reference = _Reference(path)
    try:
        model, _ = calibration.fastest(
            file=cache / calibration.CHOICE_FILE,
            key=_paths_key(path),
            reference=reference.get,
            candidates=cpu_candidates(path, cache, reference),
            say=_say,
        )
    except OSError as exc:  # the model cache cannot be written: measure nothing, run the float32 model
        _warn(f"warning: cannot keep the embedding path choice in {cache} ({exc}); embedding with torch float32")
        return MiniLMEmbedder(path, device="cpu")
    return model


def _say(msg: str) -> None:
    log.info(msg)
    print(msg, file=sys.stderr)


def _warn(line: str) -> None:
    log.warning(line)
    print(line, file=sys.stderr)


def _paths_key(path: Path) -> str:
    """What the measured choice depends on besides the CPU: the weights, the cut and the engines' versions."""
    from importlib.metadata import PackageNotFoundError, version

    parts = [minilm_fingerprint(path)]
    for package in ("torch", "openvino", "nncf", "onnxruntime", "onnx"):
        try:
            parts.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package}=none")
    return ";".join(parts)


class _Reference:
    """The float32 torch model, made once: the reference every path is compared with, and a candidate."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._model: MiniLMEmbedder | None = None

    def get(self) -> MiniLMEmbedder:
        if self._model is None:
            self._model = MiniLMEmbedder(self.path, device="cpu", precision="float32")
        return self._model


def cpu_candidates(path: Path, cache: Path, reference: _Reference | None = None) -> list[calibration.Candidate]:
    """The CPU paths worth timing here, the float32 torch model first (the fallback when nothing else agrees).

    Nothing is loaded here: each candidate makes its model when measured or chosen, an int8 model on first use
    (once per machine, up to a minute); one that cannot be made is recorded as unavailable, with a warning."""
    from paperfeed.search import minilm_int8 as int8
    from paperfeed.search import minilm_onnx as onnx
    from paperfeed.search.calibration import Candidate

    reference = reference or _Reference(path)
    fingerprint = minilm_fingerprint(path)
    cores = _cores()

    def float32_encode(texts: list[str]) -> np.ndarray:  # loads torch only when a model must be made or checked
        return reference.get().encode(texts)

    def openvino() -> Embedder:
        folder = _made("OpenVINO", lambda: int8.build(path, cache, MAX_TOKENS, float32_encode, _say))
        return int8.Int8MiniLM(path, folder, fingerprint, MAX_TOKENS)

    def onnxruntime(batch: int, workers: int, threads: int) -> Embedder:
        folder = _made("ONNX Runtime", lambda: onnx.build(path, cache, MAX_TOKENS, float32_encode, _say))
        return onnx.OrtInt8MiniLM(path, folder, fingerprint, MAX_TOKENS, batch=batch, workers=workers, threads=threads)

    found = [Candidate("torch-float32", BATCH["float32"], cores, 1, reference.get)]
    if cpu_has_native_bf16():
        found.append(Candidate("torch-bfloat16", BATCH["bfloat16"], cores, 1, functools.partial(_bfloat16, path)))
    if int8.OPENVINO_AVAILABLE:
        found.append(Candidate("openvino-int8", int8.BATCH, 0, 0, openvino))
    if onnx.ONNXRUNTIME_AVAILABLE:
        for batch, workers, threads in ((16, cores, 1), (32, 1, cores)):
            make = functools.partial(onnxruntime, batch, workers, threads)
            found.append(Candidate("onnxruntime-int8", batch, workers, threads, make))
    return found


def _bfloat16(path: Path) -> MiniLMEmbedder:
    model = MiniLMEmbedder(path, device="cpu", precision="bfloat16")
    if model.precision != "bfloat16":  # it disagreed with float32 and fell back: not a path of its own
        raise EmbedderError("torch-bfloat16 disagrees with float32 on the check texts")
    return model


def _made(engine: str, build: Callable[[], Path]) -> Path:
    """The folder ``build`` makes (or finds); a failure is warned about and raised as ``Int8Unavailable``."""
    from paperfeed.search.minilm_int8 import Int8Unavailable

    try:
        return build()
    except (Int8Unavailable, OSError) as exc:  # OSError: the cache folder cannot hold the model
        _warn(f"warning: int8 MiniLM for {engine} unavailable ({exc}); not used")
        raise Int8Unavailable(str(exc)) from exc

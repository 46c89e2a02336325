"""MiniLM quantised to int8 with OpenVINO, the fastest MiniLM-quality path measured on a 2-core CPU with AMX
(on an AVX2-only CPU ONNX Runtime's int8 model is faster: ``minilm_onnx.py``; ``calibration.py`` chooses).

The shipped all-MiniLM-L6-v2 weights are converted to OpenVINO (mean pooling and L2 normalisation inside the
graph; the token-type embedding, always type 0 here, folded into the position embeddings), then quantised to
int8 by NNCF post-training quantisation calibrated on the abstracts of the demo corpus shipped with the
package; nothing is downloaded. This happens once per machine (about 35 s on 2 cores)
into ``<model cache>/minilm-ov-int8-<key>/``: a temporary folder under a file lock, renamed when complete, so
several processes (a server, ``paperfeed index``, test workers) never build or read half a model. The result is
verified against the float32 sentence-transformers model on a few texts (``MIN_COSINE``) before use; anything
that fails is left out of the paths measured, with a ``warning:`` line (see ``minilm.cpu_candidates``).

Batches of papers run on two compiled forms of it: batches whose longest text is (nearly) at the word-piece cut,
most abstracts, on a model with the fixed shape ``BATCH`` x cut, which OpenVINO runs faster than the same
work through dynamic shapes; every other batch, and queries, on the dynamic-shape model, padded only to the
longest text of the batch. Word pieces are read from the first words of a text only (see :func:`word_pieces`).

Vectors differ slightly from float32 ones (cosine about 0.997), so the fingerprint names the variant and an
index made by another path is re-embedded, never mixed. Measured: docs/decisions.md, "Embeddings at scale".
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import shutil
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.search.embed import EmbedderError, _fingerprint, _normalise, paper_text

OPENVINO_AVAILABLE = all(importlib.util.find_spec(m) is not None for m in ("openvino", "nncf"))
MIN_COSINE = 0.98  # the int8 model must agree this well with float32 on the check texts (measured: 0.99+)
CALIBRATION_TEXTS = 300
BATCH = 16  # texts per inference request, sorted by length (measured best with 16 and 32)
FULL_SLACK = 16  # a batch whose longest text is this close to the cut runs on the fixed-shape model
GRAPH = "folded-token-type"  # how the graph is made (part of the cache key: a new form is built afresh)
_SPLIT = " \t\n\r"  # characters the BERT pre-tokenizer always splits at (Python's split() also cuts at
# control characters, which BERT deletes instead, so it cannot be used to find word boundaries)


class Int8Unavailable(EmbedderError):
    """The int8 model cannot be made or used here; the message says why."""


def model_cache(settings_dir: str) -> Path:
    """Where derived models are kept: ``settings_dir`` (PAPERFEED_MODEL_CACHE_DIR), else the user cache."""
    if settings_dir:
        return Path(settings_dir).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "paperfeed" / "models"


def _key(source: Path, max_tokens: int) -> str:
    """Weights, cut and the versions that made the model (read without importing nncf, which is slow)."""
    from importlib.metadata import version

    parts = [_fingerprint(source, ("config.json", "tokenizer.json", "model.safetensors")), str(max_tokens), GRAPH]
    parts += [version("openvino"), version("nncf")]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def model_folder(source: Path, cache: Path, max_tokens: int) -> Path:
    """Where the int8 model of the weights in ``source`` cut at ``max_tokens`` is (or will be) kept."""
    return cache / f"minilm-ov-int8-{_key(source, max_tokens)}"


def _calibration_texts() -> list[str]:
    """The shipped demo abstracts, as papers are embedded (``paper_text``)."""
    from paperfeed.ingest.demo import DEMO_PATH
    from paperfeed.models import Paper

    with open(DEMO_PATH, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()][:CALIBRATION_TEXTS]
    return [paper_text(Paper(id=row["id"], title=row["title"], abstract=row.get("abstract") or "")) for row in rows]


def without_telemetry() -> None:
    """Stop OpenVINO's converter and NNCF from reporting usage to Google Analytics in this process.

    Both send events unless a consent file in the user's home (``~/intel/openvino_telemetry``) says no, and
    write a client id there; Paperfeed sends nothing anywhere, so their consent check answers "declined" here
    (the user's own file and other programs are left alone). Called before ``openvino`` is imported: importing
    it and making a ``Core`` already sends an event, from a child process that is never reaped (a defunct
    process for the life of every server worker)."""
    try:
        from openvino_telemetry.utils.opt_in_checker import ConsentCheckResult, OptInChecker
    except ImportError:  # not installed: nothing to stop
        return

    def declined(self: Any, *args: Any, **kwargs: Any) -> Any:
        return ConsentCheckResult.DECLINED

    OptInChecker.check = declined  # type: ignore[method-assign]


def pooled_bert(source: Path) -> Any:
    """The float32 torch module ``(input_ids, attention_mask) -> vectors``: BERT + mean pooling + L2
    normalisation, the token-type embedding (always type 0 here) folded into the position table. Converted to
    OpenVINO here and exported to ONNX by ``minilm_onnx.py``."""
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(source), local_files_only=True).eval()
    embeddings = bert.embeddings

    class Folded(torch.nn.Module):
        """BERT's embeddings with token type 0 (the only one MiniLM is fed) added into the position table:
        the same sums, one gather less per token."""

        def __init__(self) -> None:
            super().__init__()
            self.word_embeddings = embeddings.word_embeddings
            table = embeddings.position_embeddings.weight + embeddings.token_type_embeddings.weight[0]
            self.positions = torch.nn.Parameter(table.detach().clone(), requires_grad=False)
            self.LayerNorm = embeddings.LayerNorm

        def forward(self, input_ids: torch.Tensor, **_ignored: Any) -> torch.Tensor:
            return self.LayerNorm(self.word_embeddings(input_ids) + self.positions[: input_ids.shape[1]])

    bert.embeddings = Folded()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return Pooled().eval()


def example_inputs() -> tuple[Any, Any]:
    """Two rows of 16 word pieces, the second padded: traced with padding, so the masked path is recorded."""
    import torch

    ids = torch.ones(2, 16, dtype=torch.long)
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[1, 10:] = 0
    return ids, mask


def _convert(source: Path, max_tokens: int) -> Any:
    """The float32 OpenVINO model of :func:`pooled_bert`, dynamic batch and length."""
    import openvino as ov
    import torch

    shape = [("input_ids", [-1, -1], ov.Type.i64), ("attention_mask", [-1, -1], ov.Type.i64)]
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer notes shape checks it records as constants; the graph is checked against float32 after
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return ov.convert_model(pooled_bert(source), example_input=example_inputs(), input=shape)


def _quantise(model: Any, tokenizer: Any, max_tokens: int) -> Any:
    import nncf

    texts = _calibration_texts()
    batches = [_inputs(tokenizer, texts[start : start + 8], max_tokens) for start in range(0, len(texts), 8)]
    return nncf.quantize(model, nncf.Dataset(batches), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(batches))


def build(
    source: Path, cache: Path, max_tokens: int, reference: Callable[[list[str]], np.ndarray], say: Callable[[str], None]
) -> Path:
    """Convert, quantise, verify against ``reference`` (the float32 embedder's ``encode``) and save once;
    returns the folder holding ``model.xml``."""
    without_telemetry()  # before openvino is imported: importing it and making a Core already reports
    import openvino as ov

    target = model_folder(source, cache, max_tokens)

    def make(tmp: Path) -> float:
        quantised = _quantise(_convert(source, max_tokens), _tokenizer(source, max_tokens), max_tokens)
        ov.save_model(quantised, str(tmp / "model.xml"))
        return verify(source, tmp, max_tokens, reference)

    return made_once(target, source, "with OpenVINO", make, say)


def made_once(
    target: Path, source: Path, engine: str, make: Callable[[Path], float], say: Callable[[str], None]
) -> Path:
    """The model folder ``target``, made once per machine: ``make(tmp)`` writes and verifies the model in a
    temporary folder (returning the lowest cosine against float32), which is renamed into place under a file
    lock, so two processes never make it twice or see half of it. Any failure is an ``Int8Unavailable``."""
    from paperfeed.search.sync import file_lock

    if (target / "paperfeed.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.with_suffix(".lock"), True):
        if (target / "paperfeed.json").is_file():
            return target  # another process made it meanwhile
        say(f"quantising MiniLM to int8 {engine} (once per machine, into {target})...")
        started = time.perf_counter()
        tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            worst = make(tmp)
        except Int8Unavailable:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        except Exception as exc:  # noqa: BLE001 - any failure: this path is not offered
            shutil.rmtree(tmp, ignore_errors=True)
            raise Int8Unavailable(f"quantising MiniLM {engine} failed: {exc}") from exc
        (tmp / "paperfeed.json").write_text(json.dumps({"source": str(source), "min_cosine": worst, "at": time.time()}))
        tmp.rename(target)
        say(f"int8 MiniLM {engine} ready in {time.perf_counter() - started:.0f}s (min cosine vs float32: {worst})")
    return target


def verify(source: Path, folder: Path, max_tokens: int, reference: Callable[[list[str]], np.ndarray]) -> float:
    """The lowest cosine between the int8 and the float32 vectors of CHECK_TEXTS, alone (the dynamic-shape
    model) and as a batch of papers (the fixed-shape one too); raises below MIN_COSINE."""
    from paperfeed.search.minilm import CHECK_TEXTS

    model = Int8MiniLM(source, folder, "", max_tokens)
    texts = list(CHECK_TEXTS)
    expected = reference(texts)
    alone = np.vstack([model.encode_queries([t]) for t in texts])  # the one-thread model of queries
    batched = model.encode(texts * BATCH)
    worst = float(
        min(np.min(np.sum(expected * alone, axis=1)), np.min(np.sum(np.tile(expected, (BATCH, 1)) * batched, axis=1)))
    )
    if worst < MIN_COSINE:
        raise Int8Unavailable(f"the int8 MiniLM disagrees with float32 (cosine {worst:.4f})")
    return round(worst, 5)


def _tokenizer(source: Path, max_tokens: int) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.enable_truncation(max_tokens)
    tokenizer.no_padding()  # rows are padded by _pad, to the batch's longest text or to the fixed shape
    return tokenizer


def _first_words(text: str, words: int) -> str:
    """``text`` up to the end of its ``words``-th word (split at spaces, tabs and line breaks only)."""
    match = _first_words_pattern(words).match(text)
    return text[: match.end()] if match is not None else text


@functools.cache
def _first_words_pattern(words: int) -> re.Pattern[str]:
    return re.compile(f"(?:[{_SPLIT}]*+[^{_SPLIT}]++){{{words}}}")  # possessive: no backtracking


def word_pieces(tokenizer: Any, texts: list[str], max_tokens: int) -> list[list[int]]:
    """Word-piece ids of ``texts`` (with [CLS] and [SEP]), cut at ``max_tokens``: exactly what tokenizing each
    whole text gives, at less cost. Every word yields at least one piece, so only the first ``max_tokens``
    words are tokenized; a text whose first words yield fewer pieces than the cut (a word of deleted
    characters only) is tokenized whole."""
    heads = [_first_words(text, max_tokens) for text in texts]
    encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)  # fast: no character offsets
    ids = [e.ids for e in encode(heads)]
    # a head is a prefix of its text: a shorter one was cut; it needs the whole text if it fell short of the cut
    redo = [k for k, (text, head) in enumerate(zip(texts, heads, strict=True)) if len(head) < len(text)]
    redo = [k for k in redo if len(ids[k]) < max_tokens]
    if redo:
        for k, enc in zip(redo, encode([texts[k] for k in redo]), strict=True):
            ids[k] = enc.ids
    return ids


def _pad(rows: list[list[int]], width: int, height: int) -> dict[str, np.ndarray]:
    """Model inputs: ``rows`` of word-piece ids padded to ``width``; rows past ``len(rows)`` up to ``height``
    are filler whose output is dropped (a one-piece mask, so nothing divides by zero)."""
    ids = np.zeros((height, width), dtype=np.int64)
    mask = np.zeros((height, width), dtype=np.int64)
    for k, row in enumerate(rows):
        ids[k, : len(row)] = row
        mask[k, : len(row)] = 1
    mask[len(rows) :, 0] = 1
    return {"input_ids": ids, "attention_mask": mask}


def _inputs(tokenizer: Any, texts: list[str], max_tokens: int) -> dict[str, np.ndarray]:
    """The model's inputs for ``texts``: word-piece ids and mask, padded to the longest of them."""
    rows = word_pieces(tokenizer, texts, max_tokens)
    return _pad(rows, max(len(row) for row in rows), len(rows))


def _file_hash(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:8]


class Int8MiniLM:
    """all-MiniLM-L6-v2 in int8 (bfloat16 between the int8 layers where the CPU has it) through OpenVINO."""

    name = "minilm"
    dim = 384
    precision = "int8"
    device = "cpu"

    def __init__(self, source: Path, folder: Path, base_fingerprint: str, max_tokens: int) -> None:
        without_telemetry()  # else each server worker reports to Google Analytics in a child it never reaps
        import openvino as ov

        self._path = folder / "model.xml"
        self._core = ov.Core()
        # The compiled form is kept beside the model: a new process (each `paperfeed search`) imports it in a
        # fraction of a second instead of compiling again (measured 2.3-2.9 s -> 0.6-0.7 s on a loaded 2-core
        # machine); OpenVINO recompiles whenever a kept blob does not fit this build or machine.
        self._core.set_property({"CACHE_DIR": str(folder / "compiled")})
        try:
            self._compiled = self._core.compile_model(str(self._path), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
        except Exception as exc:  # noqa: BLE001
            raise Int8Unavailable(f"cannot load {self._path}: {exc}") from exc
        # twice what keeps every stream busy: one batch waits behind each running one, so no stream idles while
        # Python prepares the next (measured: 200 -> 207 papers/s with 3-4 requests on 2 streams)
        self._requests = 2 * max(2, int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self._full: Any = None  # the fixed-shape model, compiled on the first batch that needs it
        self._full_lock = threading.Lock()
        # Queries: one at a time on one thread, the caller's (no hand-over to a stream thread): in a server's
        # worker, queries run at once on its request threads only competed for the same cores and caches
        # (bench/web.py, docs/benchmarks.md)
        self._one = self._core.compile_model(
            str(self._path),
            "CPU",
            {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 1, "ENABLE_CPU_PINNING": False},
        ).create_infer_request()
        self._one_lock = threading.Lock()
        self._max_tokens = max_tokens
        self._tokenizer = _tokenizer(source, max_tokens)
        self.fingerprint = f"{base_fingerprint}-ovint8-{_file_hash(folder / 'model.bin')}"

    def _full_model(self) -> Any:
        """The model compiled for exactly BATCH texts of ``max_tokens`` word pieces (about 0.5 s, once)."""
        with self._full_lock:
            if self._full is None:
                model = self._core.read_model(str(self._path))
                model.reshape({name: [BATCH, self._max_tokens] for name in ("input_ids", "attention_mask")})
                self._full = self._core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
            return self._full

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Queries: one batch on the one-thread model, in the calling thread, one batch at a time."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        inputs = _inputs(self._tokenizer, list(texts), self._max_tokens)
        with self._one_lock:
            return _normalise(self._one.infer(inputs)[0])  # a copy, made before the next batch

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Vectors of ``texts`` in order: batches of similar length, run as parallel inference requests.

        The requests are waited for here, never given a Python callback: OpenVINO would run it on its own
        threads, and a compiled model freed while one of them waits for the GIL hangs the process."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        size = batch_size or BATCH
        if len(texts) <= size:  # a small batch: one request of its own (thread-safe: never shared)
            inputs = _inputs(self._tokenizer, list(texts), self._max_tokens)
            result = self._compiled.create_infer_request().infer(inputs)
            return _normalise(np.asarray(result[0], dtype=np.float32))
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        slots: dict[bool, list[_Slot]] = {}  # per compiled model: its requests, used in turn
        ends = range(len(order) % size or size, len(order) + 1, size)  # a short batch: the shortest texts
        for begin, end in zip([0, *ends], ends, strict=False):
            rows = order[begin:end]
            pieces = word_pieces(self._tokenizer, [texts[i] for i in rows], self._max_tokens)
            longest = max(len(p) for p in pieces)
            full = size == BATCH and longest >= self._max_tokens - FULL_SLACK
            if full not in slots:
                model = self._full_model() if full else self._compiled
                slots[full] = [_Slot(model.create_infer_request()) for _ in range(self._requests)]
            slot = slots[full].pop(0)
            slots[full].append(slot)  # the next batch takes the request that started longest ago
            slot.collect(out)  # the batch this request ran before, if any
            shape = (self._max_tokens, BATCH) if full else (longest, len(rows))
            slot.start(_pad(pieces, *shape), rows)
        for slot in (s for group in slots.values() for s in group):
            slot.collect(out)
        return _normalise(out)


class _Slot:
    """One inference request and the rows of ``out`` its running batch fills."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.rows: list[int] = []

    def start(self, inputs: dict[str, np.ndarray], rows: list[int]) -> None:
        self.request.start_async(inputs)
        self.rows = rows

    def collect(self, out: np.ndarray) -> None:
        if self.rows:
            self.request.wait()
            out[self.rows] = self.request.get_output_tensor(0).data[: len(self.rows)]
            self.rows = []

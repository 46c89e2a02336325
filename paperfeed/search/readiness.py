"""How ready meaning-based search is, and what each answer says about it (docs/search.md).

Search is never silently degraded: while vectors are missing or stale, or index files are damaged, every
answer carries a warning ("meaning-based search: 1,240 of 5,183 papers ready"), and ``status`` reports the
same figures (``paperfeed status --json``).
"""

from __future__ import annotations

from dataclasses import dataclass

from paperfeed.search.embed import Embedder
from paperfeed.search.model_loader import INTERIM
from paperfeed.search.protocols import DenseBackend, IndexState
from paperfeed.search.upkeep import IndexUpkeep

DAMAGED = (
    "Some search index files were damaged; they are being rebuilt in the background, "
    "so results may be incomplete until then."
)
OFF = "Meaning-based search is off on this instance ({why}), so these are keyword (BM25) results."


@dataclass
class Served:
    """The vectors a meaning-based search uses now: model name, index, query embedder, papers covered."""

    model: str
    dense: DenseBackend
    embedder: Embedder
    ready: int


def served(upkeep: IndexUpkeep) -> Served | None:
    """The most complete usable vectors: the configured model's when it covers every paper, else the
    interim static model's when that does, else whichever covers more (None: none usable yet)."""
    model = upkeep.model
    if model is None or upkeep.models.error(model):
        return None
    names = [model]
    if upkeep.interim_allowed and model != INTERIM:
        names.append(INTERIM)
    usable: list[Served] = []
    for name in names:
        dense = upkeep.dense_index(name)
        if dense is None or not len(dense):
            continue
        emb = upkeep.models.get(name, wait=False, interim=name != model)
        if emb is None or not dense.matches(emb):
            continue
        usable.append(Served(name, dense, emb, len(dense)))
        if len(dense) >= upkeep.papers:  # complete: the interim model is never loaded for nothing
            break
    complete = [s for s in usable if s.ready >= upkeep.papers]
    if complete:
        return complete[0]
    return max(usable, key=lambda s: s.ready, default=None)


def semantic_warning(upkeep: IndexUpkeep, mode: str, use: Served | None) -> str | None:
    """What an answer in ``mode`` must say about meaning-based search, or None when it is fully there."""
    if mode == "bm25":
        return None
    model = upkeep.model
    if model is None:
        return OFF.format(why="no embedding model is configured")
    error = upkeep.models.error(model)
    if error:
        return OFF.format(why=error.rstrip("."))
    papers = upkeep.papers
    ready = use.ready if use is not None else 0
    if not papers or ready >= papers:  # nothing stored yet, or every paper has a vector
        return None
    text = f"meaning-based search: {ready:,} of {papers:,} papers ready"
    if ready == 0:
        return text + "; until the first are ready, these are keyword (BM25) results."
    return text + "; the others are still being embedded, so matches by meaning may miss them."


def lexical_warning(upkeep: IndexUpkeep) -> str | None:
    """Said while the keyword index has not caught up with the store (first start, a rebuild, a bulk ingest)."""
    if upkeep.backend != "tantivy" or not upkeep.papers:
        return None
    indexed = upkeep.lexical.count()
    if indexed >= upkeep.papers:
        return None
    return f"keyword search: {indexed:,} of {upkeep.papers:,} papers indexed so far; the others are being added."


def answer_warning(upkeep: IndexUpkeep, mode: str, use: Served | None, damage: list[str]) -> str | None:
    """Everything an answer must say about what is degraded, in one line (None when nothing is)."""
    parts = [DAMAGED] if damage or upkeep.damage else []
    lexical = lexical_warning(upkeep) if mode != "dense" else None
    if lexical:
        parts.append(lexical)
    semantic = semantic_warning(upkeep, mode, use)
    if semantic:
        parts.append(semantic)
    return " ".join(parts) or None


def index_state(upkeep: IndexUpkeep) -> IndexState:
    """The figures ``paperfeed status`` reports, as this searcher sees them."""
    use = served(upkeep)
    papers = upkeep.papers
    lexical_docs = upkeep.lexical.count()
    configured = upkeep.dense_index() if upkeep.model else None
    have = len(configured) if configured is not None else 0
    pending = max(0, papers - lexical_docs)
    if upkeep.model is not None:
        pending = max(pending, papers - have)
    if upkeep.damage:
        state = "damaged"
    elif upkeep.model is None or upkeep.models.error(upkeep.model):
        state = "off"
    elif use is None or use.ready < papers or lexical_docs < papers:
        state = "building"
    else:
        state = "ready"
    return IndexState(
        papers=papers,
        lexical_docs=lexical_docs,
        vectors=use.ready if use is not None else 0,
        model=use.model if use is not None else (upkeep.model or "none"),
        pending=pending,
        state=state,
    )

"""How ready search is, read from the newest published manifest: one truth for ``/status``,
``paperfeed status --json`` and the warning of every answer (docs/search.md).

Search is never silently degraded: while words or vectors are missing, or index files are damaged, every
answer carries a warning ("meaning-based search: 1,240 of 5,183 papers ready") and the status says the same
figures, because both are computed here from the same :class:`~paperfeed.search.generations.Manifest`.
"""

from __future__ import annotations

from dataclasses import dataclass

from paperfeed.search.generations import Manifest
from paperfeed.search.model_loader import INTERIM
from paperfeed.search.protocols import IndexState

DAMAGED = (
    "Some search index files were damaged; they are being rebuilt in the background, "
    "so results may be incomplete until then."
)
OFF = "Meaning-based search is off on this instance ({why}), so these are keyword (BM25) results."
NOTHING_YET = "The search index is being built: no paper is searchable yet, try again in a moment."


@dataclass(frozen=True)
class Served:
    """Which vectors of a generation answer meaning-based search, and how many papers they cover."""

    model: str
    ready: int


def served(manifest: Manifest | None, configured: str | None, interim_allowed: bool = True) -> Served | None:
    """The configured model's vectors when they cover every paper, else the interim static model's when those
    do, else whichever covers more (None: no vectors yet, or no model)."""
    if manifest is None or configured is None:
        return None
    names = [configured]
    if interim_allowed and configured != INTERIM:
        names.append(INTERIM)
    have = [Served(n, int(manifest.vectors.get(n, 0))) for n in names if manifest.vectors.get(n, 0) > 0]
    complete = [s for s in have if s.ready >= manifest.papers]
    if complete:
        return complete[0]
    return max(have, key=lambda s: s.ready, default=None)


def semantic_warning(manifest: Manifest, mode: str, configured: str | None, error: str | None) -> str | None:
    """What an answer in ``mode`` must say about meaning-based search, or None when it is fully there."""
    if mode == "bm25":
        return None
    if configured is None:
        return OFF.format(why="no embedding model is configured")
    if error:
        return OFF.format(why=error.rstrip("."))
    use = served(manifest, configured)
    papers, ready = manifest.papers, (use.ready if use is not None else 0)
    if not papers or ready >= papers:
        return None
    text = f"meaning-based search: {ready:,} of {papers:,} papers ready"
    if ready == 0:
        return text + "; until the first are ready, these are keyword (BM25) results."
    return text + "; the others are still being embedded, so matches by meaning may miss them."


def lexical_warning(manifest: Manifest) -> str | None:
    """Said while the keyword index has not caught up with the store (first start, a rebuild, a bulk ingest)."""
    if manifest.lexical_docs >= manifest.papers:
        return None
    return (
        f"keyword search: {manifest.lexical_docs:,} of {manifest.papers:,} papers indexed so far; "
        "the others are being added."
    )


def answer_warning(manifest: Manifest | None, mode: str, configured: str | None, error: str | None) -> str | None:
    """Everything an answer in ``mode`` from generation ``manifest`` must say is degraded, in one line."""
    if manifest is None:
        return NOTHING_YET
    parts = [DAMAGED] if manifest.damage else []
    lexical = lexical_warning(manifest) if mode != "dense" else None
    if lexical:
        parts.append(lexical)
    semantic = semantic_warning(manifest, mode, configured, error)
    if semantic:
        parts.append(semantic)
    return " ".join(parts) or None


def index_state(
    manifest: Manifest | None, configured: str | None, error: str | None, *, papers_in_store: int = 0
) -> IndexState:
    """The figures ``paperfeed status`` and ``/status`` report. Before the first generation is published
    nothing is searchable: every paper in the store (``papers_in_store``) is pending."""
    if manifest is None:
        state = "off" if configured is None or error else "building"
        return IndexState(
            papers=papers_in_store,
            lexical_docs=0,
            vectors=0,
            model=configured or "none",
            pending=papers_in_store,
            state=state if papers_in_store else ("off" if state == "off" else "ready"),
        )
    use = served(manifest, configured)
    papers = manifest.papers
    have = int(manifest.vectors.get(configured, 0)) if configured else 0
    pending = max(0, papers - manifest.lexical_docs)
    if configured is not None:
        pending = max(pending, papers - have)
    if manifest.damage:
        state = "damaged"
    elif configured is None or error:
        state = "off"
    elif (use.ready if use else 0) < papers or manifest.lexical_docs < papers:
        state = "building"
    else:
        state = "ready"
    return IndexState(
        papers=papers,
        lexical_docs=manifest.lexical_docs,
        vectors=use.ready if use is not None else 0,
        model=use.model if use is not None else (configured or "none"),
        pending=pending,
        state=state,
    )

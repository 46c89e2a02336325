"""The search service: one code path for the web pages, the JSON API, the CLI and digests.

``Searcher(engine=, settings=)`` owns the lexical index (``<index_dir>/lexical``) and, unless
``settings.embedder`` is ``"none"``, the dense vectors of that model (``<index_dir>/dense/<model>``). It keeps
them in step with the store (:meth:`Searcher.refresh`: incremental, from ``papers.changed_at``), answers
queries in the query language (:meth:`Searcher.search`) and finds related papers (:meth:`Searcher.similar`).

Indexes are refreshed explicitly (``paperfeed index``, after ingest or a submission) and lazily: before a
search, at most every ``CHECK_INTERVAL`` seconds, one cheap query tells whether the store changed; the
lexical side then catches up at once and the dense side in a background thread, so a search never waits for
a model to embed a corpus. A model that cannot be loaded leaves search lexical (BM25), with one warning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.ids import normalise_title
from paperfeed.models import Paper, SearchHit, SearchResults
from paperfeed.search import hybrid
from paperfeed.search.dense import DenseIndex
from paperfeed.search.embed import EMBEDDER_NAMES, Embedder, EmbedderError, get_embedder, static_model_path
from paperfeed.search.lexical import LexicalIndex
from paperfeed.search.query import SORTS, ParsedQuery, QueryError, add_filters, parse_query
from paperfeed.search.snippet import snippet
from paperfeed.search.sync import Progress, file_lock, marker_key, sync_lexical
from paperfeed.store.index_sync import change_marker, count_changed_since, latest_change
from paperfeed.store.papers import get_paper, get_papers

log = logging.getLogger(__name__)

CHECK_INTERVAL = 2.0  # seconds between the cheap "did the store change?" checks made before searches
MAX_LIMIT = 1_000
MAX_DEPTH = 1_000  # fused (hybrid/dense) results reach this far; BM25 pages reach every match
INLINE_REFRESH_MAX = 2_000  # a larger lexical backlog is indexed in the background, not in a search
SORT_DEPTH = 100  # hybrid/dense results sorted by date or trending: the best this many matches
SIMILAR_OVERFETCH = 20
MLT_ABSTRACT_WORDS = 120  # more-like-this query: the title plus the start of the abstract
QUERY_VECTOR_CACHE = 256
EMPTY_QUERY = (
    "Type some words to search for, or filter with author:, cat:, year:, from: or to: "
    "(for example: graph neural networks cat:cs.LG year:2023)."
)
NOTHING_SEARCHABLE = (
    "Nothing to search for: the query has no words or filters Paperfeed can use "
    "(punctuation, stop words and very long tokens are ignored). " + EMPTY_QUERY
)


class Searcher:
    """Search and similar papers over one store. Thread-safe: web handlers share one instance.

    ``model`` overrides ``settings.embedder`` ("minilm", "static" or "none"); ``embedder`` hands over an
    already loaded model (``paperfeed index --model static`` distils it first; tests build it once).
    """

    def __init__(
        self, *, engine: Engine, settings: Settings, model: str | None = None, embedder: Embedder | None = None
    ) -> None:
        name = model or (embedder.name if embedder is not None else settings.embedder)
        if name != "none" and name not in EMBEDDER_NAMES:
            raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(EMBEDDER_NAMES)}, none")
        self.engine = engine
        self.settings = settings
        self.model: str | None = None if name == "none" else name
        # "postgres": tsvector + pgvector inside the database (search/pg_backend.py); else tantivy + files.
        self.backend = "postgres" if getattr(settings, "search_backend", "auto") == "postgres" else "tantivy"
        self.lexical: Any = self._open_lexical()
        self._embedder = embedder
        self._embedder_error: str | None = None
        self._dense: Any = None  # DenseIndex, or PgDense on the postgres backend
        self._pg_marker: list[Any] | None = None
        self._dense_opened = False
        self._refresh_lock = threading.RLock()
        self._dense_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._checked = 0.0
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._background: threading.Thread | None = None
        self._seen_latest: Any = False  # the store's latest change at the last look (False: never looked)

    # ------------------------------------------------------------ models

    @property
    def semantic_error(self) -> str | None:
        """Why semantic search is off (model missing or broken), or None."""
        return self._embedder_error

    def embedder(self, *, wait: bool = True) -> Embedder | None:
        """The query/paper embedder, loaded on first use; None (with one logged warning) when it cannot be.
        Not ``wait``: None at once while another thread is loading it (a search does not wait for that)."""
        if self.model is None or self._embedder is not None:
            return self._embedder
        if not self._model_lock.acquire(blocking=wait):
            return None
        try:
            if self._embedder is None and self._embedder_error is None:
                try:
                    made = (static_model_path(self.settings) / "config.json").is_file()
                    if self.model == "static" and not made:
                        raise EmbedderError(
                            "the static model has not been made yet: run `paperfeed distill` "
                            "or `paperfeed index --model static`"
                        )
                    self._embedder = get_embedder(self.model, self.settings)
                except Exception as exc:  # noqa: BLE001 - any load failure: search stays lexical
                    self._embedder_error = str(exc)
                    log.warning("semantic search is off, searching with BM25 only: %s", exc)
        finally:
            self._model_lock.release()
        return self._embedder

    def _open_lexical(self) -> Any:
        if self.backend == "postgres":
            from paperfeed.search.pg_backend import PgLexical

            return PgLexical(self.engine)
        return LexicalIndex.open(self.settings.index_dir / "lexical")

    def _open_dense(self) -> Any:
        assert self.model is not None
        if self.backend == "postgres":
            from paperfeed.search.pg_backend import PgDense

            return PgDense.open(self.engine, self.model)
        return DenseIndex.open(self.settings.index_dir, self.model)

    def _dense_marker(self, dense: Any) -> Any:
        """The store's change marker when these vectors were last brought up to date."""
        if isinstance(dense, DenseIndex):
            return dense.store.meta.get("marker")
        return self._pg_marker

    def dense_index(self) -> Any:
        """The stored vectors of the configured model (``DenseIndex``, or ``PgDense`` on PostgreSQL search),
        opened on first use; None without a model. Has ``search(vector, k)``, ``similar``, ``vector(id)``."""
        if self.model is None:
            return None
        if not self._dense_opened:
            with self._state_lock:
                if not self._dense_opened:
                    try:
                        self._dense = self._open_dense()
                    except Exception as exc:  # noqa: BLE001 - damaged vectors: lexical until `paperfeed index`
                        log.warning("cannot read the %s vectors, searching with BM25 only: %s", self.model, exc)
                    self._dense_opened = True
        return self._dense

    # ------------------------------------------------------------ refreshing

    def refresh(self, progress: Progress | None = None, *, dense: bool = True) -> dict[str, Any]:
        """Make papers added, changed or renamed in the store since the last refresh searchable.

        Incremental and resumable (a killed run continues where it stopped); ``dense=False`` leaves the
        embeddings for later. Returns counts: ``indexed``, ``deleted``, ``embedded``, ``papers``,
        ``lexical_docs``, ``vectors``, ``model``, ``seconds`` (``warning`` when semantic search is off)."""
        started = time.perf_counter()
        with self._refresh_lock:
            with self.engine.connect() as conn:
                key = marker_key(change_marker(conn=conn))
            report: dict[str, Any] = {"indexed": 0, "deleted": 0}  # PostgreSQL keeps its tsvector in step
            if self.backend == "tantivy":
                report = dict(sync_lexical(self.lexical, self.engine, key, progress))
            report["embedded"] = self._refresh_dense(progress, key, blocking=True) if dense else 0
            self._checked = time.monotonic()
        vectors = self._dense
        report.update(
            papers=key[0],
            lexical_docs=self.lexical.count(),
            vectors=len(vectors) if vectors is not None else 0,
            model=self.model or "none",
            seconds=round(time.perf_counter() - started, 3),
        )
        if self._embedder_error:
            report["warning"] = f"semantic search is off: {self._embedder_error}"
        return report

    def _refresh_dense(self, progress: Progress | None, key: list[Any], *, blocking: bool) -> int:
        """Embed what changed, into a fresh view of the vectors swapped in at the end (readers never see
        a half-updated matrix). Returns how many papers were embedded."""
        emb = self.embedder()
        if emb is None or self.model is None:
            return 0
        if not self._dense_lock.acquire(blocking=blocking):
            return 0
        try:
            lock_path = self.settings.index_dir / "dense" / f"{self.model}.lock"
            with file_lock(lock_path, blocking) as got:
                if not got:
                    return 0
                fresh = self._open_dense()
                step = (lambda done, total: progress("dense", done, total)) if progress is not None else None
                n = fresh.update(self.engine, emb, progress=step)
                if isinstance(fresh, DenseIndex):
                    fresh.store.meta["marker"] = key
                    fresh.store.save_meta()
                else:
                    self._pg_marker = key
                self._dense, self._dense_opened = fresh, True
                return n
        finally:
            self._dense_lock.release()

    def _maybe_refresh(self) -> None:
        """Before a search: when the store moved since the last look, catch up. A small lexical backlog is
        indexed at once; a large one (a bulk ingest) and all embedding happen in a background thread."""
        now = time.monotonic()
        if now - self._checked < CHECK_INTERVAL:
            return
        self._checked = now
        if not self._refresh_lock.acquire(blocking=False):
            return  # another thread is refreshing: search what is there
        try:
            self._catch_up()
        except Exception:  # noqa: BLE001 - a failed refresh must not fail the search
            log.exception("search index refresh failed; searching the index as it is")
        finally:
            self._refresh_lock.release()

    def _catch_up(self) -> None:
        with self.engine.connect() as conn:
            latest = latest_change(conn=conn)
            if self._seen_latest == latest:
                return  # nothing changed since the indexes were last found up to date
            key = marker_key(change_marker(conn=conn))
            lexical_stale = self.backend == "tantivy" and self._lexical_stale(key)
            if lexical_stale and self._lexical_backlog(conn) <= INLINE_REFRESH_MAX:
                sync_lexical(self.lexical, self.engine, key, blocking=False)
                lexical_stale = self._lexical_stale(key)  # still stale: another process was writing
        dense = self.dense_index()
        dense_stale = (
            self.model is not None
            and self._embedder_error is None
            and (dense is None or self._dense_marker(dense) != key)
        )
        if lexical_stale or dense_stale:
            self._start_background(key, lexical=lexical_stale, dense=dense_stale)
        else:
            self._seen_latest = latest

    def _lexical_stale(self, key: list[Any]) -> bool:
        self.lexical.reload_meta()
        return bool(self.lexical.meta.get("marker") != key)

    def _lexical_backlog(self, conn: Any) -> int:
        """Papers changed since the lexical watermark (what a refresh would read)."""
        since = self.lexical.meta.get("watermark")
        return count_changed_since(conn=conn, since=datetime.fromisoformat(since) if since else None)

    def _start_background(self, key: list[Any], *, lexical: bool, dense: bool) -> None:
        if self._background is not None and self._background.is_alive():
            return

        def run() -> None:
            try:
                if lexical:
                    sync_lexical(self.lexical, self.engine, key, blocking=False)
                if dense:
                    self._refresh_dense(None, key, blocking=False)
            except Exception:  # noqa: BLE001
                log.exception(
                    "refreshing the search index in the background failed; results may miss "
                    "new papers until the next refresh"
                )

        self._background = threading.Thread(target=run, name="paperfeed-index", daemon=True)
        self._background.start()

    def wait_background(self, timeout: float | None = None) -> None:
        """Wait for a background refresh to finish (tests, clean shutdown)."""
        if self._background is not None:
            self._background.join(timeout)

    # ------------------------------------------------------------ searching

    def search(
        self,
        q: str,
        *,
        limit: int = 20,
        offset: int = 0,
        mode: str = "hybrid",
        sort: str = "relevance",
        categories: list[str] | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
    ) -> SearchResults:
        """One page of results for query ``q`` (the query language, see docs/search.md) plus filters.

        Raises :class:`QueryError` (a ``ValueError``) for a query it cannot read, with a message for the user;
        an empty query gives no hits and a helpful ``error``."""
        parsed, sort = _prepare(q, mode, sort, categories, date_from, date_to, limit, offset)
        if parsed.is_empty:
            error = NOTHING_SEARCHABLE if q.strip() else EMPTY_QUERY
            return SearchResults([], 0, q, offset, limit, error=error)
        self._maybe_refresh()
        dense, vector = self._query_vector(parsed, mode)
        if vector is None and sort != "trending":  # BM25: the engine pages and sorts exactly
            page = self.lexical.search_page(parsed, limit, offset=offset, by_date=sort == "date")
            ranks = {p: offset + r for r, p in enumerate(page.ids, 1)}
            ranking = hybrid.Ranking(page.ids, page.scores, page.total, ranks)
            hits = self._hits(page.ids, ranking, parsed)
            return SearchResults(hits, page.total, q, offset, limit)
        depth = min(max(hybrid.DEPTH, offset + limit), MAX_DEPTH)
        ranking = hybrid.rank(
            parsed,
            mode=mode if vector is not None else "bm25",
            lexical=self.lexical,
            dense=dense,
            vector=vector,
            depth=depth,
            weights=hybrid.weights_for(self.model),
        )
        total = min(ranking.total, MAX_DEPTH) if vector is not None else ranking.total
        ids = ranking.ids
        if sort != "relevance":  # newest / trending among the best matches, not among every neighbour
            ids = self._sorted(ids[:SORT_DEPTH] if vector is not None else ids, sort)
            total = len(ids)
        hits = self._hits(ids[offset : offset + limit], ranking, parsed)
        return SearchResults(hits, total, q, offset, limit)

    def _query_vector(self, parsed: ParsedQuery, mode: str) -> tuple[Any, np.ndarray | None]:
        """The dense index and query vector for this search, or ``(None, None)`` when it runs on BM25."""
        if mode == "bm25" or self.model is None or not parsed.text.strip():
            return None, None
        dense = self.dense_index()
        if dense is None or not len(dense):  # no vectors yet: no need to load the model
            return None, None
        emb = self.embedder(wait=False)
        if emb is None or not dense.matches(emb):
            return None, None
        text = parsed.text
        with self._state_lock:
            vec = self._vectors.get(text)
            if vec is not None:
                self._vectors.move_to_end(text)
        if vec is None:
            vec = emb.encode([text])[0]
            with self._state_lock:
                self._vectors[text] = vec
                while len(self._vectors) > QUERY_VECTOR_CACHE:
                    self._vectors.popitem(last=False)
        return dense, vec

    def _sorted(self, ids: list[str], sort: str) -> list[str]:
        """Candidates re-ordered by date (newest first) or trending score; relevance breaks ties."""
        with self.engine.connect() as conn:
            if sort == "date":
                papers = _hydrate(conn, ids)
                floor = datetime.min.replace(tzinfo=None)

                def when(pid: str) -> datetime:
                    p = papers.get(pid)
                    d = (p.published or p.first_seen) if p is not None else None
                    return d.replace(tzinfo=None) if d is not None else floor

                return sorted(ids, key=when, reverse=True)
            try:
                from paperfeed.rank.trending import score_papers
            except ImportError:  # trending not installed in this build: keep relevance order
                return ids
            scores = score_papers(conn=conn, ids=ids)
        return sorted(ids, key=lambda pid: -scores.get(pid, 0.0))

    def _hits(self, ids: Sequence[str], ranking: hybrid.Ranking, parsed: ParsedQuery) -> list[SearchHit]:
        """Hydrate ``ids`` once and wrap each paper with its score, reason and highlighted snippet."""
        if not ids:
            return []
        with self.engine.connect() as conn:
            by_id = _hydrate(conn, ids)
        score_of = dict(zip(ranking.ids, ranking.scores, strict=True))
        terms = parsed.scored_terms
        out: list[SearchHit] = []
        seen: set[str] = set()
        for pid in ids:
            p = by_id.get(pid)
            if p is None or p.id in seen:
                continue
            seen.add(p.id)
            out.append(
                SearchHit(
                    paper=p,
                    score=round(float(score_of.get(pid, 0.0)), 6),
                    reason=ranking.reason(pid),  # type: ignore[arg-type]
                    snippet=snippet(p.abstract or p.title, terms),
                    lexical_rank=ranking.lexical_rank.get(pid),
                    semantic_rank=ranking.semantic_rank.get(pid),
                )
            )
        return out

    # ------------------------------------------------------------ similar papers

    def similar(self, paper_id: str, *, limit: int = 10) -> list[SearchHit]:
        """The papers nearest to ``paper_id`` (an id, old id or versioned id), best first.

        By dense vectors when the paper has one, else a lexical more-like-this of its title and abstract.
        The paper itself and duplicates (same normalised title) are left out. Unknown id: ``KeyError``."""
        limit = max(1, min(int(limit), MAX_LIMIT))
        with self.engine.connect() as conn:
            paper = get_paper(conn=conn, paper_id=str(paper_id).strip())
        if paper is None:
            raise KeyError(f"there is no paper {str(paper_id)[:100]!r}")
        self._maybe_refresh()
        dense = self.dense_index()
        if dense is not None and paper.id in dense:
            ids, scores = dense.similar(paper.id, limit + SIMILAR_OVERFETCH)
            reason = "semantic"
        else:
            words = (paper.abstract or "").split()[:MLT_ABSTRACT_WORDS]
            query = ParsedQuery(raw=paper.title, words=[paper.title, " ".join(words)])
            ids, scores = self.lexical.search(query, limit + SIMILAR_OVERFETCH + 1)
            reason = "lexical"
        return self._similar_hits(paper, ids, scores, reason, limit)

    def _similar_hits(
        self, paper: Paper, ids: list[str], scores: list[float], reason: str, limit: int
    ) -> list[SearchHit]:
        with self.engine.connect() as conn:
            by_id = _hydrate(conn, ids)
        own_title = normalise_title(paper.title)
        out: list[SearchHit] = []
        seen = {paper.id}
        for pid, score in zip(ids, scores, strict=True):
            p = by_id.get(pid)
            if p is None or p.id in seen or normalise_title(p.title) == own_title:
                continue
            seen.add(p.id)
            out.append(
                SearchHit(
                    paper=p,
                    score=round(float(score), 6),
                    reason=reason,  # type: ignore[arg-type]
                    snippet=snippet(p.abstract or p.title, []),
                )
            )
            if len(out) == limit:
                break
        return out


def _hydrate(conn: Any, ids: Sequence[str]) -> dict[str, Paper]:
    """Papers by the id the index knows them by, loaded in one query. An id the index has not caught up
    with (a paper renamed since) is followed through its alias, one by one: rare and cheap."""
    by_id = {p.id: p for p in get_papers(conn=conn, ids=list(ids))}
    for pid in ids:
        if pid not in by_id:
            p = get_paper(conn=conn, paper_id=pid)
            if p is not None:
                by_id[pid] = p
    return by_id


def _prepare(
    q: str,
    mode: str,
    sort: str,
    categories: list[str] | None,
    date_from: date | None,
    date_to: date | None,
    limit: int,
    offset: int,
) -> tuple[ParsedQuery, str]:
    """Parse the query and fold in the filters given beside it; every bad value is a clear QueryError."""
    if mode not in hybrid.MODES:
        raise QueryError(f"mode must be one of {', '.join(hybrid.MODES)}, got {mode!r}")
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if int(offset) < 0:
        raise QueryError(f"offset must be 0 or more, got {offset}")
    if not isinstance(q, str):
        raise QueryError("the query must be text")
    parsed = add_filters(parse_query(q), categories=categories, date_from=date_from, date_to=date_to)
    return parsed, parsed.sort or sort

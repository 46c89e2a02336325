"""Search inside PostgreSQL: full text over a weighted ``tsvector`` (GIN), dense vectors with pgvector (HNSW).

Used when ``Settings.search_backend`` is ``postgres`` (``auto``, the default, means tantivy: see
docs/deployment.md). The two classes have the surfaces of the embedded ones (``retrievers.py``), so
:func:`paperfeed.search.hybrid.rank` fuses them the same way (z-score fusion). Every statement lives in
:mod:`paperfeed.store.pg_search` and :mod:`paperfeed.store.pg_vectors`; this module decides what to ask.

- :class:`PgLexical` ~ :class:`~paperfeed.search.lexical.LexicalIndex`: ``papers.search_tsv`` (migration
  0005: ``english`` configuration, title weight A, abstract B, authors C): the GIN index finds the matches,
  ``ts_rank`` keeps the best ``RERANK_POOL`` and those are ordered by BM25 computed in SQL (term frequencies
  per field from the tsvector's weights, field lengths from generated columns, document frequencies from
  the planner statistics ANALYZE keeps). PostgreSQL keeps the columns in step with every write.
- :class:`~paperfeed.search.pg_dense.PgDense` ~ :class:`~paperfeed.search.dense.DenseIndex`: ``paper_vectors``
  with an HNSW index (cosine) on ``embedding::vector(dim)``, made for the model's dimension. A filtered search scans the
  matching papers exactly when they are few (``FILTER_EXACT_MAX``), else asks the index for as many rows as
  pgvector allows, filtered in the same statement, and scans exactly if that did not fill ``k``.

The query language means the same on both backends: words are scored (any may match), phrases and
``author:`` must match (title/abstract, resp. author names: ``ts_filter`` on the weights), ``-x`` must not,
``cat:`` matches a category or its archive, dates filter on the publication date (first seen when unknown).
Ranking differs slightly (another stemmer and stop list, estimated document frequencies, one shared idf for
all fields): see docs/deployment.md for the measured difference.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Sequence
from time import monotonic
from typing import Any

from sqlalchemy import Engine

from paperfeed.search.analyze import words
from paperfeed.search.query import ParsedQuery
from paperfeed.search.retrievers import LexicalPage, LexicalSearch, PageRequest
from paperfeed.store import pg_search as sql

# BM25 over the RERANK_POOL best ts_rank candidates (k1, b as tantivy's; field boosts as the embedded index).
RERANK_POOL = 1000
# Above this many estimated matches only papers holding the query's rarer words are ranked: ranking every
# paper that shares one common word with the query grew to half a second at 100k papers (docs/deployment.md).
PRUNE_MATCHES = 20_000
# Such broad queries are counted exactly up to this many matches and estimated by the planner above it:
# an exact count reads every matching row's tsvector (300 ms of 550 at 100k papers, docs/deployment.md).
COUNT_EXACT_MAX = 1_000
BM25_K1, BM25_B = 1.2, 0.75
FIELD_BOOSTS = {"A": 0.5, "B": 1.0, "C": 0.5}  # title, abstract, author names (tuned on SciFact train)
STATS_TTL = 300.0  # seconds between reads of pg_stats (document frequencies, average field lengths)
EF_SEARCH_MAX = 1000  # pgvector's limit; an HNSW scan returns at most ef_search rows
EF_SEARCH_MIN = 100  # candidates examined for small k (pgvector's default 40 gave recall@10 0.85 at 100k)
# ... and more as the table grows, by the embedded graph's rule (ann.EF_PER_SQRT_ROW): at 1M vectors
# ef_search 100 gave recall@10 0.683
FILTER_EXACT_MAX = 20_000  # a filter keeping at most this many papers: exact scan among them
STATE_KEY = "pg_vectors"
COUNT_TTL = 10.0
# maintenance_work_mem for an HNSW build: the graph fits in memory (pgvector builds several times slower once
# it does not), sized from the rows (vector + neighbour lists), never below the server's own setting.
HNSW_BYTES_PER_NODE = 512
HNSW_BUILD_MEMORY_MIN, HNSW_BUILD_MEMORY_MAX = 64 * 2**20, 2 * 2**30


class PgSearchError(RuntimeError):
    """PostgreSQL search cannot answer (not a PostgreSQL database, or migration 0005 missing)."""


def _quote(word: str) -> str:
    """A word as a tsquery operand: quoted, so nothing in it is read as tsquery syntax."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def _any_words_query(text_in: str) -> str:
    """``'w1' | 'w2' | ...`` for ``to_tsquery``: any word may match (stop words are dropped by PostgreSQL)."""
    return " | ".join(_quote(w) for w in dict.fromkeys(words(text_in)))


def candidate_lexemes(lexemes: Sequence[str], stats: _Stats) -> list[str] | None:
    """The rarer of a query's lexemes, when all of them together would match more than ``PRUNE_MATCHES``
    papers: the most common are dropped (they are still scored) until the rest match fewer, keeping at least
    the rarest. ``None`` when nothing needs dropping. A paper holding only the common words is no longer a
    candidate; their idf is low, so it rarely belonged in the top ten. Measured on SciFact train (5,183
    papers) with the threshold at 1,000-2,000 papers: nDCG@10 unchanged (0.6911); at 500: 0.6917; at 250
    (5% of the corpus): 0.6898, Recall@100 0.921 -> 0.896."""
    if len(lexemes) < 2:
        return None
    by_freq = sorted(dict.fromkeys(lexemes), key=stats.freq)
    if sum(stats.freq(x) for x in by_freq) * stats.n <= PRUNE_MATCHES:
        return None
    kept: list[str] = []
    matches = 0.0
    for lexeme in by_freq:
        matches += stats.freq(lexeme) * stats.n
        if kept and matches > PRUNE_MATCHES:
            break
        kept.append(lexeme)
    return kept


def constraints(query: ParsedQuery) -> sql.Where:
    """The query's filters as SQL over ``papers p``: phrases, exclusions, authors, categories, dates."""
    where = sql.Where()
    for n, phrase in enumerate(query.phrases):
        if words(phrase):
            where.phrase(f"ph{n}", phrase, "{a,b}", negate=False)
    for n, excluded in enumerate(query.excluded):
        if words(excluded):
            where.phrase(f"ex{n}", excluded, "{a,b}", negate=True)
    for n, name in enumerate(query.authors):
        spellings = [s for s in [name, *query.author_variants.get(name, [])] if words(s)]
        if len(spellings) > 1:  # the same person under another spelling (initials) counts too
            where.any_phrase(f"au{n}", spellings, "{c}")
        elif spellings:
            where.phrase(f"au{n}", name, "{c}", negate=False)
    cats = [c.strip().lower() for c in query.categories if c.strip()]
    if cats:  # any of them; "cs" matches every cs.* paper, like the embedded index
        where.categories(cats)
    where.dates(query.date_from, query.date_to)
    return where


class _Stats:
    """What BM25 needs of the whole corpus, from the planner statistics ANALYZE keeps (no scan): document
    frequencies of the most common lexemes, the corpus size and average field lengths."""

    def __init__(self, n: float, freqs: dict[str, float], rare: float, avg_title: float, avg_abstract: float) -> None:
        self.n, self.freqs, self.rare = max(n, 1.0), freqs, rare
        self.avg_title, self.avg_abstract = max(avg_title, 1.0), max(avg_abstract, 1.0)

    def freq(self, lexeme: str) -> float:
        """Estimated share of papers that hold ``lexeme``."""
        return self.freqs.get(lexeme, self.rare)

    def idf(self, lexeme: str) -> float:
        df = self.freq(lexeme) * self.n
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    @classmethod
    def read(cls, conn: Any) -> _Stats:
        got = sql.planner_stats(conn=conn)
        n, freqs = got.rows, got.lexeme_freqs
        rare = got.below_common / 2 if got.below_common is not None else 1.0 / max(n, 1.0)
        if n < 1 or not freqs:  # never analysed (a new store): count, and leave idf flat
            n = float(sql.count_papers(conn=conn))
            rare = 1.0 / max(n, 1.0)

        def mean(bounds: list[float], default: float) -> float:
            if not bounds:
                return default
            mids = [(a + b) / 2 for a, b in zip(bounds, bounds[1:], strict=False)]
            return sum(mids) / len(mids) if mids else float(bounds[0])

        return cls(n, freqs, rare, mean(got.title_bounds, 8.0), mean(got.abstract_bounds, 100.0))


class PgLexical(LexicalSearch):
    """Full-text search over ``papers.search_tsv`` with the surface of ``LexicalIndex``."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise PgSearchError(f"PostgreSQL search needs a PostgreSQL database, not {engine.dialect.name}")
        self.engine = engine
        self._cached: tuple[_Stats, float] | None = None

    def count(self) -> int:
        with self.engine.connect() as conn:
            return sql.count_papers(conn=conn)

    def page(self, request: PageRequest) -> LexicalPage:
        """A page of matches and the total count (see :meth:`LexicalSearch.search_page`)."""
        parsed, k, allowed, offset = request.query, request.k, request.allowed, max(request.offset, 0)
        if k <= 0 or (allowed is not None and not allowed):
            return LexicalPage([], [], 0)
        where = constraints(parsed)
        scored = _any_words_query(parsed.text)
        if not scored and not where.parts:
            return LexicalPage([], [], 0)
        if allowed is not None:
            where.ids(list(allowed))
        if scored and not request.by_date:
            return self._bm25_page(parsed, where, scored, k, offset)
        if scored:
            where.any_words(scored)
        with self.engine.connect() as conn:
            ids, total = sql.date_page(conn=conn, where=where, k=k, offset=offset)
        return LexicalPage(ids, [0.0] * len(ids), total)

    def _bm25_page(self, parsed: ParsedQuery, where: sql.Where, scored: str, k: int, offset: int) -> LexicalPage:
        """GIN finds the matches, ``ts_rank`` keeps the best ``RERANK_POOL``, BM25 orders those. When the
        query's words would match more than ``PRUNE_MATCHES`` papers (planner statistics), only papers
        holding its rarer words are ranked (see :func:`candidate_lexemes`), and the total of every match is
        exact up to ``COUNT_EXACT_MAX``, estimated above."""
        with self.engine.connect() as conn:
            stats = self._stats(conn)
            lexemes = sql.query_lexemes(conn=conn, words=" ".join(words(parsed.text)))
            matching = where.copy()
            matching.any_words(scored)
            ranked = matching
            kept = candidate_lexemes(lexemes, stats)
            if kept is not None:
                ranked = where.copy()
                ranked.params["scored"] = scored  # ts_rank still weighs every word of the query
                ranked.add("p.search_tsv @@ CAST(:kept AS tsquery)", kept=" | ".join(_quote(x) for x in kept))
            params = {
                "k1": BM25_K1,
                "b": BM25_B,
                "avg_a": stats.avg_title,
                "avg_b": stats.avg_abstract,
                "boost_a": FIELD_BOOSTS["A"],
                "boost_b": FIELD_BOOSTS["B"],
                "boost_c": FIELD_BOOSTS["C"],
            }
            terms = {x: stats.idf(x) for x in lexemes}
            pool = max(RERANK_POOL, k + offset)
            ids, scores, total = sql.bm25_page(
                conn=conn, where=ranked, k=k, offset=offset, pool=pool, terms=terms, params=params
            )
            if kept is not None:
                total = sql.count_up_to(conn=conn, where=matching, cap=COUNT_EXACT_MAX)
            elif total is None:
                total = sql.count_papers(conn=conn, where=matching)
        return LexicalPage(ids, scores, total)

    def _stats(self, conn: Any) -> _Stats:
        now = monotonic()
        if self._cached is None or now - self._cached[1] > STATS_TTL:
            self._cached = (_Stats.read(conn), now)
        return self._cached[0]

    def doc_freqs(self, terms: Sequence[str]) -> tuple[dict[str, float], float]:
        """Papers holding each analysed term and the number of papers, from the planner statistics BM25 uses
        here (cached); terms below the statistics' horizon count as rare, never as absent."""
        with self.engine.connect() as conn:
            stats = self._stats(conn)
        return {t: max(stats.freq(t) * stats.n, 2.0) for t in terms}, float(stats.n)

    def filter_ids(self, query: ParsedQuery, ids: Collection[str]) -> set[str]:
        """Those of ``ids`` that satisfy the query's constraints (holds semantic candidates to the rules)."""
        if not ids:
            return set()
        if not query.has_constraints:
            return set(ids)
        where = constraints(query)
        where.ids(list(ids), name="ids")
        with self.engine.connect() as conn:
            return set(sql.matching_ids(conn=conn, where=where))

    def count_matching(self, query: ParsedQuery) -> int:
        """How many papers satisfy the query's constraints (its words aside)."""
        with self.engine.connect() as conn:
            return sql.count_papers(conn=conn, where=constraints(query))

    def matching_ids(self, query: ParsedQuery, limit: int) -> list[str] | None:
        """Ids of every paper that satisfies the query's constraints, or None when more than ``limit`` do."""
        with self.engine.connect() as conn:
            found = sql.matching_ids(conn=conn, where=constraints(query), limit=limit + 1)
        return None if len(found) > limit else found


def text_hash(text_in: str) -> str:
    return hashlib.sha1(text_in.encode("utf-8")).hexdigest()

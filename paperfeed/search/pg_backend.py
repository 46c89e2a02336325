"""Search inside PostgreSQL: full text over a weighted ``tsvector`` (GIN), dense vectors with pgvector (HNSW).

Used when ``Settings.search_backend`` is ``postgres`` (``auto``, the default, means tantivy: see
docs/deployment.md). The two classes have the surfaces of the embedded ones, so
:func:`paperfeed.search.hybrid.rank` fuses them the same way (z-score fusion):

- :class:`PgLexical` ~ :class:`~paperfeed.search.lexical.LexicalIndex` (``search_page``, ``search``,
  ``filter_ids``): ``papers.search_tsv`` (migration 0005: ``english`` configuration, title weight A,
  abstract B, authors C): the GIN index finds the matches, ``ts_rank`` keeps the best ``RERANK_POOL`` and
  those are ordered by BM25 computed in SQL (term frequencies per field from the tsvector's weights, field
  lengths from generated columns, document frequencies from the planner statistics ANALYZE keeps).
  PostgreSQL keeps the columns in step with every write, so there is nothing to refresh.
- :class:`PgDense` ~ :class:`~paperfeed.search.dense.DenseIndex` (``search``, ``similar``, ``update``...):
  ``paper_vectors`` with an HNSW index (cosine) on ``embedding::vector(dim)``, made for the model's dimension.

The query language means the same on both backends: words are scored (any may match), phrases and
``author:`` must match (title/abstract, resp. author names: ``ts_filter`` on the weights), ``-x`` must not,
``cat:`` matches a category or its archive, dates filter on the publication date (first seen when unknown).
Ranking differs slightly (another stemmer and stop list, estimated document frequencies, one shared idf for
all fields): see docs/deployment.md for the measured difference.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, time, timedelta
from time import monotonic
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, text

from paperfeed.search import ann
from paperfeed.search.analyze import words
from paperfeed.search.lexical import LexicalPage
from paperfeed.search.query import ParsedQuery, parse_query
from paperfeed.store.papers import iter_papers, now_utc
from paperfeed.store.state import get_state, set_state

# ts_rank weights for {D, C, B, A} = {-, authors, abstract, title} and its normalisation flags
# (1: divide by 1 + log(length)); tuned on SciFact train only (docs/deployment.md).
RANK_WEIGHTS = "{0.0, 0.2, 0.4, 1.0}"
RANK_NORMALISATION = 1
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
STATE_KEY = "pg_vectors"
COUNT_TTL = 10.0
# maintenance_work_mem for an HNSW build: the graph fits in memory (pgvector builds several times slower once
# it does not), sized from the rows (vector + neighbour lists), never below the server's own setting.
HNSW_BYTES_PER_NODE = 512
HNSW_BUILD_MEMORY_MIN, HNSW_BUILD_MEMORY_MAX = 64 * 2**20, 2 * 2**30
_WHEN = "coalesce(p.published, p.first_seen)"


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


def drop_hnsw_indexes(conn: Connection) -> None:
    """Drop every HNSW index on ``paper_vectors`` (a model change, or before a bulk load: building the graph
    after the rows are in is far faster than inserting them into it one by one)."""
    for name in conn.execute(
        text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'paper_vectors' "
            "AND indexname LIKE 'ix_paper_vectors_hnsw_%'"
        )
    ).scalars():
        conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))


def _day_start(d: Any) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


class _Where:
    """A WHERE clause with its bind parameters, built clause by clause."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: dict[str, Any] = {}

    def add(self, sql: str, **params: Any) -> None:
        self.parts.append(sql)
        self.params.update(params)

    def sql(self) -> str:
        return " AND ".join(self.parts) if self.parts else "TRUE"

    def copy(self) -> _Where:
        other = _Where()
        other.parts, other.params = list(self.parts), dict(self.params)
        return other


def _phrase_clause(where: _Where, name: str, phrase: str, weights: str, negate: bool) -> None:
    """``phrase`` must (or must not) occur in the fields of ``weights`` (``{a,b}`` title/abstract,
    ``{c}`` authors). The unfiltered ``@@`` lets the GIN index find candidates; ``ts_filter`` rechecks."""
    q = f"phraseto_tsquery('english', :{name})"
    if negate:
        where.add(f"NOT (ts_filter(p.search_tsv, '{weights}') @@ {q})", **{name: phrase})
    else:
        where.add(f"p.search_tsv @@ {q} AND ts_filter(p.search_tsv, '{weights}') @@ {q}", **{name: phrase})


def constraints(query: ParsedQuery) -> _Where:
    """The query's filters as SQL over ``papers p``: phrases, exclusions, authors, categories, dates."""
    where = _Where()
    for n, phrase in enumerate(query.phrases):
        if words(phrase):
            _phrase_clause(where, f"ph{n}", phrase, "{a,b}", negate=False)
    for n, excluded in enumerate(query.excluded):
        if words(excluded):
            _phrase_clause(where, f"ex{n}", excluded, "{a,b}", negate=True)
    for n, name in enumerate(query.authors):
        if words(name):
            _phrase_clause(where, f"au{n}", name, "{c}", negate=False)
    cats = [c.strip().lower() for c in query.categories if c.strip()]
    if cats:  # any of them; "cs" matches every cs.* paper, like the embedded index
        where.add(
            "EXISTS (SELECT 1 FROM paper_categories pc WHERE pc.paper_id = p.id AND "
            "(lower(pc.category) = ANY(:cats) OR split_part(lower(pc.category), '.', 1) = ANY(:cats)))",
            cats=cats,
        )
    if query.date_from:
        where.add(f"{_WHEN} >= :date_from", date_from=_day_start(query.date_from))
    if query.date_to:
        where.add(f"{_WHEN} < :date_to", date_to=_day_start(query.date_to) + timedelta(days=1))
    return where


_TS_RANK = f"ts_rank('{RANK_WEIGHTS}', p.search_tsv, to_tsquery('english', :scored), {RANK_NORMALISATION})"
# tf in a field = positions of a query lexeme with that field's weight (A title, B abstract, C authors).
_BM25_SQL = """
WITH cand AS (
    SELECT p.id, p.search_tsv, p.title_terms, p.abstract_terms, count(*) OVER () AS total
    FROM papers p WHERE {where} ORDER BY {rank} DESC, p.id LIMIT :pool),
terms AS (SELECT * FROM unnest(CAST(:lexemes AS text[]), CAST(:idfs AS float8[])) AS t(lexeme, idf)),
tf AS (
    SELECT c.id, w.idf, c.title_terms, c.abstract_terms,
           coalesce(cardinality(array_positions(u.weights, 'A')), 0) AS ta,
           coalesce(cardinality(array_positions(u.weights, 'B')), 0) AS tb,
           coalesce(cardinality(array_positions(u.weights, 'C')), 0) AS tc
    FROM cand c CROSS JOIN LATERAL unnest(c.search_tsv) u JOIN terms w ON w.lexeme = u.lexeme),
scored AS (
    SELECT id, sum(idf * (
        :boost_a * ta * (:k1 + 1) / (ta + :k1 * (1 - :b + :b * title_terms / :avg_a))
      + :boost_b * tb * (:k1 + 1) / (tb + :k1 * (1 - :b + :b * abstract_terms / :avg_b))
      + :boost_c * tc * (:k1 + 1) / (tc + :k1))) AS score
    FROM tf GROUP BY id)
SELECT c.id, coalesce(s.score, 0) AS score, c.total FROM cand c LEFT JOIN scored s ON s.id = c.id
ORDER BY score DESC, c.id LIMIT :k OFFSET :offset
"""


class _Stats:
    """What BM25 needs of the whole corpus, read from the planner statistics ANALYZE keeps (no scan):
    document frequencies of the most common lexemes, the corpus size and average field lengths."""

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
    def read(cls, conn: Connection) -> _Stats:
        n = float(
            conn.execute(
                text("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'papers'::regclass")
            ).scalar_one()
            or 0
        )
        rows = {
            r.attname: r
            for r in conn.execute(
                text(
                    "SELECT attname, most_common_elems::text::text[] AS elems, most_common_elem_freqs AS freqs, "
                    "histogram_bounds::text::float8[] AS bounds FROM pg_stats WHERE schemaname = current_schema() "
                    "AND tablename = 'papers' AND attname IN ('search_tsv', 'title_terms', 'abstract_terms')"
                )
            )
        }
        tsv = rows.get("search_tsv")
        freqs: dict[str, float] = {}
        rare = 1.0 / max(n, 1.0)
        if tsv is not None and tsv.elems:
            freqs = dict(zip(tsv.elems, tsv.freqs[: len(tsv.elems)], strict=True))
            rare = float(tsv.freqs[len(tsv.elems)]) / 2  # below the least common lexeme kept
        if n < 1 or not freqs:  # never analysed (a new store): count, and leave idf flat
            n = float(conn.execute(text("SELECT count(*) FROM papers")).scalar_one())
            rare = 1.0 / max(n, 1.0)

        def mean(name: str, default: float) -> float:
            row = rows.get(name)
            bounds = row.bounds if row is not None and row.bounds else None
            if not bounds:
                return default
            mids = [(a + b) / 2 for a, b in zip(bounds, bounds[1:], strict=False)]
            return sum(mids) / len(mids) if mids else float(bounds[0])

        return cls(n, freqs, rare, mean("title_terms", 8.0), mean("abstract_terms", 100.0))


class PgLexical:
    """Full-text search over ``papers.search_tsv`` with the surface of ``LexicalIndex``."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql":
            raise PgSearchError(f"PostgreSQL search needs a PostgreSQL database, not {engine.dialect.name}")
        self.engine = engine
        self._cached: tuple[_Stats, float] | None = None

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM papers")).scalar_one())

    def search(
        self, query: ParsedQuery | str, k: int, *, allowed: Collection[str] | None = None
    ) -> tuple[list[str], list[float]]:
        page = self.search_page(query, k, allowed=allowed)
        return page.ids, page.scores

    def search_page(
        self,
        query: ParsedQuery | str,
        k: int,
        *,
        offset: int = 0,
        allowed: Collection[str] | None = None,
        by_date: bool = False,
    ) -> LexicalPage:
        """A page of matches and the total count; like ``LexicalIndex.search_page``, a query with filters
        but no words is ordered by date, newest first."""
        parsed = parse_query(query) if isinstance(query, str) else query
        if k <= 0 or (allowed is not None and not allowed):
            return LexicalPage([], [], 0)
        where = constraints(parsed)
        scored = _any_words_query(parsed.text)
        if not scored and not where.parts:
            return LexicalPage([], [], 0)
        if allowed is not None:
            where.add("p.id = ANY(:allowed)", allowed=list(allowed))
        if scored and not by_date:
            return self._bm25_page(parsed, where, scored, k, max(offset, 0))
        if scored:
            where.add("p.search_tsv @@ to_tsquery('english', :scored)", scored=scored)
        sql = (
            f"SELECT p.id, 0.0 AS score, count(*) OVER () AS total FROM papers p WHERE {where.sql()} "
            f"ORDER BY {_WHEN} DESC NULLS LAST, p.id LIMIT :k OFFSET :offset"
        )
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql), {**where.params, "k": k, "offset": max(offset, 0)}).fetchall()
            total = int(rows[0].total) if rows else self._count(conn, where)
        return LexicalPage([r.id for r in rows], [float(r.score) for r in rows], total)

    @staticmethod
    def _count(conn: Connection, where: _Where) -> int:
        return int(conn.execute(text(f"SELECT count(*) FROM papers p WHERE {where.sql()}"), where.params).scalar_one())

    @staticmethod
    def _count_broad(conn: Connection, where: _Where) -> int:
        """Matches of ``where``: exact up to ``COUNT_EXACT_MAX``, above it the planner's estimate."""
        counted = int(
            conn.execute(
                text(f"SELECT count(*) FROM (SELECT 1 FROM papers p WHERE {where.sql()} LIMIT :cap) m"),
                {**where.params, "cap": COUNT_EXACT_MAX + 1},
            ).scalar_one()
        )
        if counted <= COUNT_EXACT_MAX:
            return counted
        plan = conn.execute(
            text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM papers p WHERE {where.sql()}"), where.params
        ).scalar_one()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return max(counted, int(plan[0]["Plan"]["Plan Rows"]))

    def _bm25_page(self, parsed: ParsedQuery, where: _Where, scored: str, k: int, offset: int) -> LexicalPage:
        """GIN finds the matches, ``ts_rank`` keeps the best ``RERANK_POOL``, BM25 orders those. When the
        query's words would match more than ``PRUNE_MATCHES`` papers (planner statistics), only papers
        holding its rarer words are ranked (see :func:`candidate_lexemes`), and the total of every match is
        exact up to ``COUNT_EXACT_MAX``, estimated above."""
        pool = max(RERANK_POOL, k + offset)
        with self.engine.connect() as conn:
            stats = self._stats(conn)
            lexemes = [
                str(x)
                for x in conn.execute(
                    text("SELECT tsvector_to_array(to_tsvector('english', :t))"), {"t": " ".join(words(parsed.text))}
                ).scalar_one()
            ]
            idfs = [stats.idf(x) for x in lexemes]
            matching = where.copy()
            matching.add("p.search_tsv @@ to_tsquery('english', :scored)", scored=scored)
            ranked = matching
            kept = candidate_lexemes(lexemes, stats)
            if kept is not None:
                ranked = where.copy()
                ranked.params["scored"] = scored  # ts_rank still weighs every word of the query
                ranked.add("p.search_tsv @@ CAST(:kept AS tsquery)", kept=" | ".join(_quote(x) for x in kept))
            rows = conn.execute(
                text(_BM25_SQL.format(where=ranked.sql(), rank=_TS_RANK)),
                {
                    **ranked.params,
                    "pool": pool,
                    "k": k,
                    "offset": offset,
                    "lexemes": lexemes,
                    "idfs": idfs,
                    "k1": BM25_K1,
                    "b": BM25_B,
                    "avg_a": stats.avg_title,
                    "avg_b": stats.avg_abstract,
                    "boost_a": FIELD_BOOSTS["A"],
                    "boost_b": FIELD_BOOSTS["B"],
                    "boost_c": FIELD_BOOSTS["C"],
                },
            ).fetchall()
            if kept is not None:
                total = self._count_broad(conn, matching)
            else:
                total = int(rows[0].total) if rows else self._count(conn, matching)
        return LexicalPage([r.id for r in rows], [float(r.score) for r in rows], total)

    def _stats(self, conn: Connection) -> _Stats:
        now = monotonic()
        if self._cached is None or now - self._cached[1] > STATS_TTL:
            self._cached = (_Stats.read(conn), now)
        return self._cached[0]

    def filter_ids(self, query: ParsedQuery, ids: Collection[str]) -> set[str]:
        """Those of ``ids`` that satisfy the query's constraints (holds semantic candidates to the rules)."""
        if not ids:
            return set()
        if not query.has_constraints:
            return set(ids)
        where = constraints(query)
        where.add("p.id = ANY(:ids)", ids=list(ids))
        with self.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT p.id FROM papers p WHERE {where.sql()}"), where.params)
            return set(rows.scalars())


def _vector_literal(vec: np.ndarray) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in np.asarray(vec, dtype=np.float32).reshape(-1)) + "]"


def _parse_vector(value: str) -> np.ndarray:
    return np.asarray(json.loads(value), dtype=np.float32)


def text_hash(text_in: str) -> str:
    return hashlib.sha1(text_in.encode("utf-8")).hexdigest()


class PgDense:
    """The vectors of one model in ``paper_vectors``, searched by cosine similarity through HNSW."""

    def __init__(self, engine: Engine, model_name: str) -> None:
        if engine.dialect.name != "postgresql":
            raise PgSearchError(f"PostgreSQL search needs a PostgreSQL database, not {engine.dialect.name}")
        self.engine = engine
        self.model_name = model_name
        self._count: tuple[int, float] | None = None
        with engine.connect() as conn:
            self.meta: dict[str, Any] = dict(get_state(conn=conn, key=STATE_KEY) or {})

    @classmethod
    def open(cls, engine: Engine, model_name: str) -> PgDense:
        return cls(engine, model_name)

    # ------------------------------------------------------------ reading

    @property
    def dim(self) -> int:
        return int(self.meta.get("dim") or 0)

    @property
    def fingerprint(self) -> str:
        return str(self.meta.get("fingerprint") or "")

    def __len__(self) -> int:
        """How many papers have a vector (cached ``COUNT_TTL`` seconds: searches ask before each query)."""
        now = monotonic()
        if self._count is None or now - self._count[1] > COUNT_TTL:
            with self.engine.connect() as conn:
                n = conn.execute(text("SELECT count(*) FROM paper_vectors")).scalar_one()
            self._count = (int(n), now)
        return self._count[0]

    def __contains__(self, paper_id: object) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(text("SELECT 1 FROM paper_vectors WHERE paper_id = :i"), {"i": str(paper_id)}).first()
                is not None
            )

    def matches(self, embedder: Any) -> bool:
        """True when the stored vectors were made by ``embedder`` (same weights and dimension)."""
        return self.fingerprint == embedder.fingerprint and self.dim == embedder.dim

    def vector(self, paper_id: str) -> np.ndarray | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT embedding::text FROM paper_vectors WHERE paper_id = :i"), {"i": paper_id}
            ).first()
        return None if row is None else _parse_vector(row[0])

    def ef_search(self, k: int) -> int:
        """``hnsw.ef_search`` for ``k`` results: at least ``k``, wider as the table grows (pgvector's cap)."""
        wanted = max(k, EF_SEARCH_MIN, int(ann.EF_PER_SQRT_ROW * math.sqrt(len(self))))
        return min(wanted, EF_SEARCH_MAX)

    def search(self, vector: np.ndarray, k: int) -> tuple[list[str], list[float]]:
        """The ``k`` papers nearest to ``vector`` by cosine similarity, best first."""
        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        if k <= 0 or not self.dim:
            return [], []
        if vec.shape[0] != self.dim:
            raise PgSearchError(
                f"query vector has {vec.shape[0]} dims but the {self.model_name} vectors "
                f"have {self.dim}; run `paperfeed index` to re-embed with the current model"
            )
        col = f"embedding::vector({self.dim})"
        sql = (
            f"SELECT paper_id, 1 - ({col} <=> CAST(:q AS vector({self.dim}))) AS score FROM paper_vectors "
            f"ORDER BY {col} <=> CAST(:q AS vector({self.dim})) LIMIT :k"
        )
        with self.engine.begin() as conn:
            conn.execute(text(f"SET LOCAL hnsw.ef_search = {self.ef_search(k)}"))
            rows = conn.execute(text(sql), {"q": _vector_literal(vec), "k": k}).fetchall()
        return [r.paper_id for r in rows], [float(r.score) for r in rows]

    def similar(self, paper_id: str, k: int) -> tuple[list[str], list[float]]:
        """The ``k`` papers nearest to ``paper_id``, without itself and exact duplicates (same text)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT embedding::text, text_hash FROM paper_vectors WHERE paper_id = :i"), {"i": paper_id}
            ).first()
            if row is None or k <= 0:
                return [], []
            ids, scores = self.search(_parse_vector(row[0]), k + 10)
            same = set(
                conn.execute(text("SELECT paper_id FROM paper_vectors WHERE text_hash = :h"), {"h": row[1]}).scalars()
            )
        pairs = [(i, s) for i, s in zip(ids, scores, strict=True) if i != paper_id and i not in same][:k]
        return [i for i, _ in pairs], [s for _, s in pairs]

    # ------------------------------------------------------------ writing

    def prepare(self, embedder: Any) -> None:
        """Make the table ready for ``embedder``'s vectors: another model's vectors (and their HNSW index)
        are dropped first, so spaces are never mixed."""
        if self.matches(embedder):
            return
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM paper_vectors"))
            drop_hnsw_indexes(conn)
            self.meta = {
                "model": embedder.name,
                "fingerprint": embedder.fingerprint,
                "dim": int(embedder.dim),
                "watermark": None,
            }
            set_state(conn=conn, key=STATE_KEY, value=self.meta)
        self._count = None

    def ensure_index(self) -> None:
        """Create the HNSW index (cosine) for this model's dimension if missing. Built after a bulk load,
        which is several times faster than growing it row by row; later rows are added to it as written."""
        if not self.dim:
            return
        name = f"ix_paper_vectors_hnsw_{self.dim}"
        with self.engine.begin() as conn:
            if conn.execute(text("SELECT 1 FROM pg_indexes WHERE indexname = :n"), {"n": name}).first():
                return
            rows = int(conn.execute(text("SELECT count(*) FROM paper_vectors")).scalar_one())
            setting = int(
                conn.execute(
                    text("SELECT setting::bigint * 1024 FROM pg_settings WHERE name = 'maintenance_work_mem'")
                ).scalar_one()
            )
            wanted = min(max(rows * (4 * self.dim + HNSW_BYTES_PER_NODE), HNSW_BUILD_MEMORY_MIN), HNSW_BUILD_MEMORY_MAX)
            if wanted > setting:
                conn.execute(text(f"SET LOCAL maintenance_work_mem = '{wanted // 2**20}MB'"))
            conn.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS {name} ON paper_vectors "
                    f"USING hnsw ((embedding::vector({self.dim})) vector_cosine_ops)"
                )
            )

    def add(self, ids: Sequence[str], vectors: np.ndarray, hashes: Sequence[str]) -> None:
        """Store (or replace) vectors for ``ids``; ``hashes`` are the sha1 of each embedded text."""
        if not (len(ids) == len(vectors) == len(hashes)):
            raise ValueError("ids, vectors and hashes must have the same length")
        if len(ids) and (vectors.ndim != 2 or vectors.shape[1] != self.dim):
            raise PgSearchError(f"vectors have shape {vectors.shape}, expected (n, {self.dim})")
        with self.engine.begin() as conn:
            self._upsert(conn, ids, vectors, hashes)
        self._count = None

    def _upsert(self, conn: Connection, ids: Sequence[str], vectors: np.ndarray, hashes: Sequence[str]) -> None:
        rows = [
            {"i": i, "f": self.fingerprint, "h": h, "v": _vector_literal(v)}
            for i, v, h in zip(ids, vectors, hashes, strict=True)
        ]
        for start in range(0, len(rows), 500):
            conn.execute(
                text(
                    "INSERT INTO paper_vectors (paper_id, fingerprint, text_hash, embedding) "
                    "SELECT CAST(:i AS varchar), :f, :h, CAST(:v AS vector) "
                    "WHERE EXISTS (SELECT 1 FROM papers WHERE id = CAST(:i AS varchar)) "
                    "ON CONFLICT (paper_id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
                    "text_hash = EXCLUDED.text_hash, embedding = EXCLUDED.embedding"
                ),
                rows[start : start + 500],
            )

    def commit(self) -> None:
        """Nothing to merge: every write is already searchable (kept for the ``DenseIndex`` surface)."""

    def update(self, engine: Engine, embedder: Any, progress: Any = None, batch_size: int = 1000) -> int:
        """Embed papers added or changed since the last update (unchanged text is skipped by its hash);
        vectors of deleted papers go with them (foreign key). Returns how many were embedded."""
        from paperfeed.search.embed import paper_text

        self.prepare(embedder)
        started = now_utc()
        since = datetime.fromisoformat(self.meta["watermark"]) if self.meta.get("watermark") else None
        embedded = seen = 0
        with engine.connect() as conn:
            for batch in iter_papers(conn=conn, changed_since=since, batch_size=batch_size):
                known = self._hashes(conn, [p.id for p in batch])
                todo = [
                    (p.id, t, text_hash(t)) for p in batch for t in [paper_text(p)] if known.get(p.id) != text_hash(t)
                ]
                if todo:
                    self.add([i for i, _, _ in todo], embedder.encode([t for _, t, _ in todo]), [h for _, _, h in todo])
                embedded += len(todo)
                seen += len(batch)
                if progress is not None:
                    progress(seen, None)
        self.ensure_index()
        self.meta["watermark"] = (started - timedelta(minutes=2)).isoformat()
        with self.engine.begin() as conn:
            set_state(conn=conn, key=STATE_KEY, value=self.meta)
        return embedded

    @staticmethod
    def _hashes(conn: Connection, ids: list[str]) -> dict[str, str]:
        rows = conn.execute(
            text("SELECT paper_id, text_hash FROM paper_vectors WHERE paper_id = ANY(:ids)"), {"ids": ids}
        )
        return {r[0]: r[1] for r in rows}

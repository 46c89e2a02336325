"""PostgreSQL full-text search SQL: filters, BM25 pages, date pages, counts and planner statistics.

The statements behind :class:`paperfeed.search.pg_backend.PgLexical` (and the filters that
:class:`~paperfeed.search.pg_backend.PgDense` searches within), over ``papers.search_tsv`` (migration 0005:
``english`` configuration, title weight A, abstract B, authors C). The search layer decides *what* to ask
(which words, how deep, which stage); every statement lives here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, text

WHEN = "coalesce(p.published, p.first_seen)"
# ts_rank weights for {D, C, B, A} = {-, authors, abstract, title} and its normalisation flags
# (1: divide by 1 + log(length)); tuned on SciFact train only (docs/deployment.md).
RANK_WEIGHTS = "{0.0, 0.2, 0.4, 1.0}"
RANK_NORMALISATION = 1
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


class Where:
    """A WHERE clause over ``papers p`` with its bind parameters, built clause by clause."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: dict[str, Any] = {}

    def add(self, sql: str, **params: Any) -> None:
        self.parts.append(sql)
        self.params.update(params)

    def sql(self) -> str:
        return " AND ".join(self.parts) if self.parts else "TRUE"

    def copy(self) -> Where:
        other = Where()
        other.parts, other.params = list(self.parts), dict(self.params)
        return other

    def phrase(self, name: str, phrase: str, weights: str, *, negate: bool) -> None:
        """``phrase`` must (or must not) occur in the fields of ``weights`` (``{a,b}`` title/abstract,
        ``{c}`` authors). The unfiltered ``@@`` lets the GIN index find candidates; ``ts_filter`` rechecks."""
        q = f"phraseto_tsquery('english', :{name})"
        if negate:
            self.add(f"NOT (ts_filter(p.search_tsv, '{weights}') @@ {q})", **{name: phrase})
        else:
            self.add(f"p.search_tsv @@ {q} AND ts_filter(p.search_tsv, '{weights}') @@ {q}", **{name: phrase})

    def any_phrase(self, name: str, phrases: Sequence[str], weights: str) -> None:
        """At least one of ``phrases`` occurs in the fields of ``weights`` (see :meth:`phrase`)."""
        parts, params = [], {}
        for i, phrase in enumerate(phrases):
            key = f"{name}_{i}"
            q = f"phraseto_tsquery('english', :{key})"
            parts.append(f"(p.search_tsv @@ {q} AND ts_filter(p.search_tsv, '{weights}') @@ {q})")
            params[key] = phrase
        self.add("(" + " OR ".join(parts) + ")", **params)

    def categories(self, cats: Sequence[str]) -> None:
        """Any of ``cats`` (lower case); ``cs`` matches every ``cs.*`` paper."""
        self.add(
            "EXISTS (SELECT 1 FROM paper_categories pc WHERE pc.paper_id = p.id AND "
            "(lower(pc.category) = ANY(:cats) OR split_part(lower(pc.category), '.', 1) = ANY(:cats)))",
            cats=list(cats),
        )

    def dates(self, date_from: date | None, date_to: date | None) -> None:
        """Published (first seen when unknown) on or after ``date_from`` and on or before ``date_to``."""
        if date_from:
            self.add(f"{WHEN} >= :date_from", date_from=_day_start(date_from))
        if date_to:
            self.add(f"{WHEN} < :date_to", date_to=_day_start(date_to) + timedelta(days=1))

    def any_words(self, tsquery: str, name: str = "scored") -> None:
        """At least one word of ``tsquery`` (``'w1' | 'w2'``, for ``to_tsquery``) matches."""
        self.add(f"p.search_tsv @@ to_tsquery('english', :{name})", **{name: tsquery})

    def ids(self, ids: Sequence[str], name: str = "allowed") -> None:
        self.add(f"p.id = ANY(:{name})", **{name: list(ids)})


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


@dataclass
class PlannerStats:
    """What ANALYZE keeps about ``papers`` (no scan): the row estimate, the most common lexemes of
    ``search_tsv`` with their frequencies (and the next one down), histograms of the field lengths."""

    rows: float
    lexeme_freqs: dict[str, float]
    below_common: float | None
    title_bounds: list[float]
    abstract_bounds: list[float]


def planner_stats(*, conn: Connection) -> PlannerStats:
    n = float(
        conn.execute(text("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'papers'::regclass")).scalar_one()
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
    below: float | None = None
    if tsv is not None and tsv.elems:
        freqs = dict(zip(tsv.elems, tsv.freqs[: len(tsv.elems)], strict=True))
        below = float(tsv.freqs[len(tsv.elems)])  # the frequency below the least common lexeme kept

    def bounds(name: str) -> list[float]:
        row = rows.get(name)
        return [float(b) for b in row.bounds] if row is not None and row.bounds else []

    return PlannerStats(n, freqs, below, bounds("title_terms"), bounds("abstract_terms"))


def count_papers(*, conn: Connection, where: Where | None = None) -> int:
    """Papers matching ``where`` (every paper without one)."""
    clause = where or Where()
    return int(conn.execute(text(f"SELECT count(*) FROM papers p WHERE {clause.sql()}"), clause.params).scalar_one())


def count_up_to(*, conn: Connection, where: Where, cap: int) -> int:
    """Matches of ``where``: exact up to ``cap``, above it the planner's estimate (never below ``cap + 1``)."""
    counted = int(
        conn.execute(
            text(f"SELECT count(*) FROM (SELECT 1 FROM papers p WHERE {where.sql()} LIMIT :cap) m"),
            {**where.params, "cap": cap + 1},
        ).scalar_one()
    )
    if counted <= cap:
        return counted
    plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM papers p WHERE {where.sql()}"), where.params)
    doc = plan.scalar_one()
    doc = json.loads(doc) if isinstance(doc, str) else doc
    return max(counted, int(doc[0]["Plan"]["Plan Rows"]))


def query_lexemes(*, conn: Connection, words: str) -> list[str]:
    """The lexemes PostgreSQL's ``english`` configuration makes of ``words`` (stop words dropped)."""
    found = conn.execute(text("SELECT tsvector_to_array(to_tsvector('english', :t))"), {"t": words}).scalar_one()
    return [str(x) for x in found]


def bm25_page(
    *, conn: Connection, where: Where, k: int, offset: int, pool: int, terms: dict[str, float], params: dict[str, float]
) -> tuple[list[str], list[float], int | None]:
    """``ts_rank`` keeps the best ``pool`` papers of ``where`` (which must bind ``:scored``); those are
    ordered by BM25 over ``terms`` (lexeme: idf) with ``params`` (k1, b, avg_a, avg_b, boost_a/b/c).
    Returns ids, scores and the number of papers ``where`` matches (None when no row came back)."""
    rows = conn.execute(
        text(_BM25_SQL.format(where=where.sql(), rank=_TS_RANK)),
        {
            **where.params,
            **params,
            "pool": pool,
            "k": k,
            "offset": offset,
            "lexemes": list(terms),
            "idfs": list(terms.values()),
        },
    ).fetchall()
    return [r.id for r in rows], [float(r.score) for r in rows], (int(rows[0].total) if rows else None)


def date_page(*, conn: Connection, where: Where, k: int, offset: int) -> tuple[list[str], int]:
    """Papers matching ``where``, newest first (publication date, first seen when unknown), and their count."""
    rows = conn.execute(
        text(
            f"SELECT p.id, count(*) OVER () AS total FROM papers p WHERE {where.sql()} "
            f"ORDER BY {WHEN} DESC NULLS LAST, p.id LIMIT :k OFFSET :offset"
        ),
        {**where.params, "k": k, "offset": offset},
    ).fetchall()
    total = int(rows[0].total) if rows else count_papers(conn=conn, where=where)
    return [r.id for r in rows], total


def matching_ids(*, conn: Connection, where: Where, limit: int | None = None) -> list[str]:
    """Ids of the papers matching ``where`` (at most ``limit``)."""
    sql = f"SELECT p.id FROM papers p WHERE {where.sql()}" + (" LIMIT :lim" if limit is not None else "")
    return list(conn.execute(text(sql), {**where.params, "lim": limit}).scalars())

"""PostgreSQL vector SQL (pgvector): ``paper_vectors`` rows, their HNSW index, and nearest-neighbour queries.

The statements behind :class:`paperfeed.search.pg_backend.PgDense`. Vectors travel as pgvector text
literals (``[0.1,0.2,...]``); the column is cast to ``vector(dim)`` so the HNSW index made for the model's
dimension serves the query.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection, text

from paperfeed.store.pg_search import Where

UPSERT_BATCH = 500


def vector_literal(vec: np.ndarray) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in np.asarray(vec, dtype=np.float32).reshape(-1)) + "]"


def _parse(value: str) -> np.ndarray:
    return np.asarray(json.loads(value), dtype=np.float32)


def count_vectors(*, conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM paper_vectors")).scalar_one())


def has_vector(*, conn: Connection, paper_id: str) -> bool:
    found = conn.execute(text("SELECT 1 FROM paper_vectors WHERE paper_id = :i"), {"i": paper_id}).first()
    return found is not None


def get_vector(*, conn: Connection, paper_id: str) -> tuple[np.ndarray, str] | None:
    """The stored vector of ``paper_id`` and the hash of the text it was made from."""
    row = conn.execute(
        text("SELECT embedding::text, text_hash FROM paper_vectors WHERE paper_id = :i"), {"i": paper_id}
    ).first()
    return None if row is None else (_parse(row[0]), str(row[1]))


def ids_with_text_hash(*, conn: Connection, text_hash: str) -> set[str]:
    return set(
        conn.execute(text("SELECT paper_id FROM paper_vectors WHERE text_hash = :h"), {"h": text_hash}).scalars()
    )


def text_hashes(*, conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    rows = conn.execute(
        text("SELECT paper_id, text_hash FROM paper_vectors WHERE paper_id = ANY(:ids)"), {"ids": list(ids)}
    )
    return {r[0]: r[1] for r in rows}


def nearest(
    *, conn: Connection, vector: np.ndarray, dim: int, k: int, ef_search: int, where: Where | None = None
) -> tuple[list[str], list[float]]:
    """The ``k`` nearest vectors by cosine through the HNSW index (at most ``ef_search`` rows come back);
    with ``where``, only papers matching it (checked on the rows the index returns). Run in a transaction
    (``SET LOCAL``)."""
    col = f"v.embedding::vector({dim})"
    q = f"CAST(:q AS vector({dim}))"
    join = "" if where is None else f" JOIN papers p ON p.id = v.paper_id WHERE {where.sql()}"
    conn.execute(text(f"SET LOCAL hnsw.ef_search = {int(ef_search)}"))
    rows = conn.execute(
        text(
            f"SELECT v.paper_id, 1 - ({col} <=> {q}) AS score FROM paper_vectors v{join} "
            f"ORDER BY {col} <=> {q} LIMIT :k"
        ),
        {**(where.params if where is not None else {}), "q": vector_literal(vector), "k": k},
    ).fetchall()
    return [r.paper_id for r in rows], [float(r.score) for r in rows]


def nearest_exact(
    *, conn: Connection, vector: np.ndarray, dim: int, k: int, where: Where
) -> tuple[list[str], list[float]]:
    """The ``k`` nearest vectors among the papers matching ``where``, by scanning them all (the order
    expression differs from the indexed one, so the HNSW index is not used): for selective filters."""
    col = f"v.embedding::vector({dim})"
    rows = conn.execute(
        text(
            f"SELECT v.paper_id, 1 - ({col} <=> CAST(:q AS vector({dim}))) AS score FROM paper_vectors v "
            f"JOIN papers p ON p.id = v.paper_id WHERE {where.sql()} ORDER BY score DESC, v.paper_id LIMIT :k"
        ),
        {**where.params, "q": vector_literal(vector), "k": k},
    ).fetchall()
    return [r.paper_id for r in rows], [float(r.score) for r in rows]


def delete_all_vectors(*, conn: Connection) -> None:
    """Remove every vector and every HNSW index (another model's space)."""
    conn.execute(text("DELETE FROM paper_vectors"))
    drop_hnsw_indexes(conn=conn)


def drop_hnsw_indexes(*, conn: Connection) -> None:
    """Drop every HNSW index on ``paper_vectors`` (a model change, or before a bulk load: building the graph
    after the rows are in is far faster than inserting them into it one by one)."""
    for name in conn.execute(
        text(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'paper_vectors' "
            "AND indexname LIKE 'ix_paper_vectors_hnsw_%'"
        )
    ).scalars():
        conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))


def ensure_hnsw_index(*, conn: Connection, dim: int, bytes_per_row: int, memory_min: int, memory_max: int) -> None:
    """Create the HNSW index (cosine) for ``dim`` if missing, with ``maintenance_work_mem`` raised so the
    graph of every row fits (``bytes_per_row`` each, within ``memory_min``..``memory_max``)."""
    name = f"ix_paper_vectors_hnsw_{int(dim)}"
    if conn.execute(text("SELECT 1 FROM pg_indexes WHERE indexname = :n"), {"n": name}).first():
        return
    rows = count_vectors(conn=conn)
    setting = int(
        conn.execute(
            text("SELECT setting::bigint * 1024 FROM pg_settings WHERE name = 'maintenance_work_mem'")
        ).scalar_one()
    )
    wanted = min(max(rows * bytes_per_row, memory_min), memory_max)
    if wanted > setting:
        conn.execute(text(f"SET LOCAL maintenance_work_mem = '{wanted // 2**20}MB'"))
    conn.execute(
        text(
            f"CREATE INDEX IF NOT EXISTS {name} ON paper_vectors "
            f"USING hnsw ((embedding::vector({int(dim)})) vector_cosine_ops)"
        )
    )


def upsert_vectors(
    *, conn: Connection, ids: Sequence[str], vectors: np.ndarray, hashes: Sequence[str], fingerprint: str
) -> None:
    """Store (or replace) one vector per paper; ids no longer in ``papers`` are skipped."""
    rows = [
        {"i": i, "f": fingerprint, "h": h, "v": vector_literal(v)} for i, v, h in zip(ids, vectors, hashes, strict=True)
    ]
    for start in range(0, len(rows), UPSERT_BATCH):
        conn.execute(
            text(
                "INSERT INTO paper_vectors (paper_id, fingerprint, text_hash, embedding) "
                "SELECT CAST(:i AS varchar), :f, :h, CAST(:v AS vector) "
                "WHERE EXISTS (SELECT 1 FROM papers WHERE id = CAST(:i AS varchar)) "
                "ON CONFLICT (paper_id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
                "text_hash = EXCLUDED.text_hash, embedding = EXCLUDED.embedding"
            ),
            rows[start : start + UPSERT_BATCH],
        )

"""Small synthetic citation graphs for tests of the citation map, the citation signals and citation sorts.

Rows go straight into ``citation_works`` / ``citation_edges`` (migration ``0015_citations``) through
:mod:`paperfeed.store.citation_graph`'s table handles, the way the OpenAlex fetcher leaves them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, insert

from paperfeed.store.citation_graph import edges, works


def add_citations(
    engine: Engine,
    works_in: Mapping[str, Mapping[str, Any]],
    cites: Iterable[tuple[str, str]],
) -> None:
    """Store works (OpenAlex id -> fields: ``paper_id``, ``title``, ``year``, ``doi``, ``cited_by_count``)
    and citation edges ``(citing, cited)``."""
    rows = [
        {
            "id": wid,
            "paper_id": w.get("paper_id"),
            "title": w.get("title", wid),
            "year": w.get("year"),
            "doi": w.get("doi"),
            "cited_by_count": w.get("cited_by_count", 0),
            "citing_complete": True,
        }
        for wid, w in works_in.items()
    ]
    pairs = [{"citing": a, "cited": b} for a, b in dict.fromkeys(cites)]
    with engine.begin() as conn:
        if rows:
            conn.execute(insert(works), rows)
        if pairs:
            conn.execute(insert(edges), pairs)


# The centre paper P (a paper of the store), with:
#   references R1, R2 (papers of the store) and R3 (outside, with a DOI);
#   citing papers C1, C2, C3 (store) and C4 (outside);
#   X cited together with P by C1, C2, C3 (3 papers); Y cited together with P by C1 only;
#   Q (store) cites R1 and R2: shares 2 references with P; S (store) cites R1: shares 1.
CENTRE = "W100"
GRAPH_WORKS: dict[str, dict[str, Any]] = {
    "W100": {"key": "P", "year": 2021, "cited_by_count": 4},
    "W201": {"key": "R1", "year": 2015, "cited_by_count": 900},
    "W202": {"key": "R2", "year": 2017, "cited_by_count": 300},
    "W203": {
        "title": "An Outside Reference on Graphs",
        "year": 2012,
        "doi": "10.1000/outside.ref",
        "cited_by_count": 50,
    },
    "W301": {"key": "C1", "year": 2022, "cited_by_count": 10},
    "W302": {"key": "C2", "year": 2023, "cited_by_count": 5},
    "W303": {"key": "C3", "year": 2023, "cited_by_count": 1},
    "W304": {"title": "An Outside Citing Survey", "year": 2024, "doi": "10.1000/outside.cite", "cited_by_count": 2},
    "W401": {"key": "X", "year": 2020, "cited_by_count": 40},
    "W402": {"key": "Y", "year": 2019, "cited_by_count": 8},
    "W501": {"key": "Q", "year": 2022, "cited_by_count": 3},
    "W502": {"key": "S", "year": 2022, "cited_by_count": 0},
}
GRAPH_EDGES = [
    ("W100", "W201"),
    ("W100", "W202"),
    ("W100", "W203"),
    ("W301", "W100"),
    ("W302", "W100"),
    ("W303", "W100"),
    ("W304", "W100"),
    ("W301", "W401"),
    ("W302", "W401"),
    ("W303", "W401"),
    ("W301", "W402"),
    ("W501", "W201"),
    ("W501", "W202"),
    ("W502", "W201"),
]


def add_small_graph(engine: Engine, paper_ids: Mapping[str, str]) -> None:
    """The graph above, the works with a ``key`` tied to the stored papers ``paper_ids[key]``."""
    works_in = {
        wid: {**w, "paper_id": paper_ids[w["key"]]} if "key" in w else dict(w) for wid, w in GRAPH_WORKS.items()
    }
    add_citations(engine, works_in, GRAPH_EDGES)

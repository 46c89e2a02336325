"""A map of a paper's related work: the paper, its references, the papers citing it, and the papers most
co-cited with it or sharing its references (Connected Papers' two relations), laid out in Python.

:func:`citation_map` is the one data function behind ``/papers/{id}/graph`` (drawn as SVG) and
``GET /api/v1/papers/{id}/graph`` (JSON). The map is bounded: at most ``MAX_NODES`` nodes, taken round-robin
from the four relations, each ranked strongest first (references and citing papers by their own citation
counts, co-cited and coupled papers by how many citing papers / shared references tie them to the paper), so
a paper with thousands of citations draws as fast as one with ten.

Layout (:func:`layout`): a small stress layout in numpy. Graph distances (shortest paths over the map's edges,
at most ``MAX_HOPS``) are the target distances; the positions start on a seeded circle and are refined by
localized stress-majorisation steps (elementwise numpy only), so the same graph always gives the same picture.
The paper is moved to the centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from sqlalchemy import Connection

from paperfeed.links import paper_url
from paperfeed.store import citation_graph as cg

Relation = Literal["paper", "reference", "citation", "co-cited", "coupled"]
RELATIONS: tuple[Relation, ...] = ("reference", "citation", "co-cited", "coupled")
RELATION_LABELS = {
    "paper": "This paper",
    "reference": "References",
    "citation": "Cited by",
    "co-cited": "Often cited together",
    "coupled": "Shares references",
}
MAX_NODES = 60  # the paper included
PER_RELATION = 40  # candidates fetched per relation before the round-robin
WIDTH, HEIGHT, MARGIN = 960.0, 640.0, 40.0
MAX_HOPS = 4
SEED = 24


@dataclass
class Node:
    """One work on the map. ``id``: the paper id for papers of this store, else the OpenAlex id."""

    id: str
    title: str
    year: int | None
    citations: int
    relation: Relation
    strength: int  # co-cited: citing papers in common; coupled: shared references; else its citations
    openalex: str
    doi: str | None
    url: str | None
    in_store: bool
    x: float = 0.0
    y: float = 0.0
    r: float = 6.0
    fill: str = "#888888"


@dataclass
class Edge:
    source: str
    target: str
    kind: Literal["cites", "co-cited", "coupled"]
    weight: int = 1


@dataclass
class CitationMap:
    """The nodes (the paper first), the edges, the picture's size, and a notice when there is no data."""

    paper_id: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    width: float = WIDTH
    height: float = HEIGHT
    year_range: tuple[int, int] | None = None
    warning: str | None = None


def citation_map(*, conn: Connection, paper_id: str, title: str, max_nodes: int = MAX_NODES) -> CitationMap:
    """The map around the stored paper ``paper_id`` (``title`` names it when it has no citation data yet).
    Papers of the store link to their page, outside works to their DOI (else their OpenAlex page)."""
    wid = cg.work_of(conn=conn, paper_id=paper_id)
    if wid is None:
        only = Node(paper_id, title, None, 0, "paper", 0, "", None, paper_link(paper_id), True)
        out = CitationMap(paper_id, [only], warning="No citation data for this paper yet: run `paperfeed citations`.")
        _place(out)
        return out
    ranked: dict[Relation, list[tuple[str, int]]] = {
        "reference": [(w, 0) for w in cg.references(conn=conn, work_id=wid, limit=PER_RELATION)],
        "citation": [(w, 0) for w in cg.citers(conn=conn, work_id=wid, limit=PER_RELATION)],
        "co-cited": cg.co_cited(conn=conn, work_id=wid, limit=PER_RELATION),
        "coupled": cg.coupled(conn=conn, work_id=wid, limit=PER_RELATION),
    }
    chosen = _round_robin(wid, ranked, max_nodes)
    info = cg.works_by_id(conn=conn, ids=[wid, *chosen])
    pairs = cg.edges_among(conn=conn, ids=[wid, *chosen])
    out = CitationMap(paper_id)
    for w, (relation, strength) in [(wid, ("paper", 0)), *chosen.items()]:
        work = info.get(w)
        if work is None:
            continue
        node_id = work.paper_id or work.id
        link = paper_link(work.paper_id) if work.paper_id else _outside_link(work)
        strength = strength or work.cited_by_count
        out.nodes.append(
            Node(
                node_id,
                work.title,
                work.year,
                work.cited_by_count,
                relation,
                strength,
                work.id,
                work.doi,
                link,
                bool(work.paper_id),
            )  # type: ignore[arg-type]
        )
    node_of = {n.openalex: n.id for n in out.nodes}
    out.edges = [Edge(node_of[a], node_of[b], "cites") for a, b in pairs if a in node_of and b in node_of]
    for w, (relation, strength) in chosen.items():
        if relation in ("co-cited", "coupled") and w in node_of:
            out.edges.append(Edge(node_of[wid], node_of[w], relation, strength))  # type: ignore[arg-type]
    _place(out)
    return out


def paper_link(paper_id: str) -> str:
    """A paper's page on this site (:func:`paperfeed.links.paper_url`)."""
    return paper_url(paper_id)


def _outside_link(work: cg.GraphWork) -> str:
    if work.doi:
        doi = work.doi.removeprefix("https://doi.org/")
        return f"https://doi.org/{doi}"
    return f"https://openalex.org/{work.id}"


def _round_robin(
    wid: str, ranked: dict[Relation, list[tuple[str, int]]], max_nodes: int
) -> dict[str, tuple[Relation, int]]:
    """Up to ``max_nodes - 1`` works, one from each relation in turn (strongest first); a work keeps the
    first relation that brought it."""
    chosen: dict[str, tuple[Relation, int]] = {}
    cursors = dict.fromkeys(RELATIONS, 0)
    while len(chosen) < max_nodes - 1:
        moved = False
        for rel in RELATIONS:
            items = ranked[rel]
            while cursors[rel] < len(items) and (items[cursors[rel]][0] in chosen or items[cursors[rel]][0] == wid):
                cursors[rel] += 1
            if cursors[rel] < len(items) and len(chosen) < max_nodes - 1:
                w, strength = items[cursors[rel]]
                chosen[w] = (rel, strength)
                cursors[rel] += 1
                moved = True
        if not moved:
            break
    return chosen


def layout(n: int, edges: list[tuple[int, int]], *, seed: int = SEED, iterations: int = 60) -> np.ndarray:
    """Positions (``n`` × 2, in hops) for a graph of ``n`` nodes: stress majorisation on hop distances
    (weights 1/d², each node moved to the weighted mean of where every other node would put it), from a seeded
    start. Unconnected pairs get ``MAX_HOPS + 1`` hops."""
    if n == 0:
        return np.zeros((0, 2))
    if n == 1:
        return np.zeros((1, 2))
    adj = np.zeros((n, n), dtype=bool)
    for a, b in edges:
        if a != b:
            adj[a, b] = adj[b, a] = True
    dist = np.full((n, n), float(MAX_HOPS + 1))
    np.fill_diagonal(dist, 0.0)
    frontier = np.eye(n, dtype=bool)
    reached = frontier.copy()
    for hop in range(1, MAX_HOPS + 1):  # breadth-first search from every node at once
        frontier = (frontier.astype(np.int32) @ adj.astype(np.int32) > 0) & ~reached
        dist[frontier] = hop
        reached |= frontier
    rng = np.random.default_rng(seed)
    angle = np.linspace(0, 2 * math.pi, n, endpoint=False)
    pos = np.c_[np.cos(angle), np.sin(angle)] * (1.0 + 0.1 * rng.random((n, 1)))
    weights = 1.0 / np.maximum(dist, 1e-9) ** 2
    np.fill_diagonal(weights, 0.0)
    total = weights.sum(axis=1)[:, None]
    for _ in range(iterations):  # localized stress majorisation: elementwise only (no BLAS, no inverse)
        diff = pos[:, None, :] - pos[None, :, :]
        d = np.sqrt((diff**2).sum(axis=2))
        with np.errstate(divide="ignore", invalid="ignore"):
            unit = np.where(d[:, :, None] > 1e-9, diff / d[:, :, None], 0.0)
        target = pos[None, :, :] + dist[:, :, None] * unit  # where i would sit at distance d_ij from each j
        new = (weights[:, :, None] * target).sum(axis=1) / total
        if np.abs(new - pos).max() < 1e-3:
            pos = new
            break
        pos = new
    return pos - pos.mean(axis=0)


def _place(m: CitationMap) -> None:
    """Lay the map out into its picture: centre on the paper, scale into the margins, size and shade nodes."""
    index = {node.id: i for i, node in enumerate(m.nodes)}
    pairs = [(index[e.source], index[e.target]) for e in m.edges if e.source in index and e.target in index]
    pos = layout(len(m.nodes), pairs)
    if len(m.nodes):
        pos = pos - pos[0]
        span = np.abs(pos).max(axis=0)
        span[span < 1e-9] = 1.0
        half = np.array([m.width / 2 - MARGIN, m.height / 2 - MARGIN])
        pos = pos / span * half + np.array([m.width / 2, m.height / 2])
    years = [n.year for n in m.nodes if n.year is not None]
    m.year_range = (min(years), max(years)) if years else None
    for node, (x, y) in zip(m.nodes, pos, strict=True):
        node.x, node.y = round(float(x), 1), round(float(y), 1)
        node.r = round(5.0 + 2.6 * math.log1p(max(node.citations, 0)), 1)
        node.r = min(node.r, 24.0)
        node.fill = shade(node.year, m.year_range)


def shade(year: int | None, years: tuple[int, int] | None) -> str:
    """Older papers lighter, newer darker (one blue hue); grey without a year."""
    if year is None or years is None:
        return "#9e9e9e"
    lo, hi = years
    t = 1.0 if hi == lo else (year - lo) / (hi - lo)
    light = 82 - 52 * t  # lightness 82% (oldest) .. 30% (newest)
    r, g, b = _hsl(212, 0.62, light / 100)
    return f"#{r:02x}{g:02x}{b:02x}"


def _hsl(h: float, s: float, lum: float) -> tuple[int, int, int]:
    c = (1 - abs(2 * lum - 1)) * s
    x = c * (1 - abs((h / 60) % 2 - 1))
    m = lum - c / 2
    r, g, b = (c, x, 0.0) if h < 60 else (x, c, 0.0) if h < 120 else (0.0, c, x) if h < 180 else (0.0, x, c)
    if 240 <= h < 300:
        r, g, b = x, 0.0, c
    return round((r + m) * 255), round((g + m) * 255), round((b + m) * 255)


def grouped(m: CitationMap) -> list[tuple[str, list[Node]]]:
    """The map's works by relation, for the list under the picture (empty relations left out)."""
    out = []
    for rel in ("paper", *RELATIONS):
        members = [n for n in m.nodes if n.relation == rel]
        if members:
            out.append((RELATION_LABELS[rel], members))
    return out

"""A stand-in OpenAlex (``/works``) served on 127.0.0.1, for the citation tests.

A test builds an :class:`OpenAlexWorld` of works (some with arXiv DOIs of papers it stores, some outside
works) and who cites whom, then serves it with :func:`openalex_server`. The server answers the ``/works``
queries Paperfeed makes in the real API's JSON shapes (``results``, ``meta.count``/``next_cursor``, ``id`` as
``https://openalex.org/W…``, ``doi`` as ``https://doi.org/…``, ``display_name``/``title``,
``publication_year``, ``cited_by_count``, ``counts_by_year``, ``primary_location.source.display_name``,
``referenced_works``), with OpenAlex's limits (at most 50 values in an OR filter, ``per-page`` 1 to 200,
cursor paging, ``select``), and records every request (see :class:`tests.arxiv_server.ArxivServer`).
``fail`` lets a test answer some requests itself (a 429, a 503, a dropped connection).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.arxiv_server import ArxivServer, Reply, Request

MAX_OR_VALUES = 50
JSON_TYPE = {"Content-Type": "application/json"}


@dataclass
class Work:
    """One OpenAlex work. ``cites``: W ids it references; ``cited_by_count``: None counts the world's edges."""

    id: str  # short id, "W100"
    title: str
    year: int | None = 2023
    doi: str | None = None  # bare DOI, "10.48550/arXiv.2401.00001"
    venue: str | None = None
    cites: list[str] = field(default_factory=list)
    cited_by_count: int | None = None
    counts_by_year: list[tuple[int, int]] | None = None  # None: from the citing works' years


def arxiv_doi(arxiv_id: str) -> str:
    """The DOI arXiv registers for a paper, as OpenAlex spells it (``10.48550/arxiv.2205.13147``)."""
    return f"10.48550/arxiv.{arxiv_id}"


@dataclass
class OpenAlexWorld:
    works: dict[str, Work] = field(default_factory=dict)

    def add(self, *works: Work) -> OpenAlexWorld:
        for w in works:
            self.works[w.id] = w
        return self

    def citing(self, work_id: str) -> list[Work]:
        return [w for w in self.works.values() if work_id in w.cites]

    def as_json(self, w: Work) -> dict[str, object]:
        citing = self.citing(w.id)
        counts = w.counts_by_year
        if counts is None:
            per_year: dict[int, int] = {}
            for c in citing:
                if c.year is not None:
                    per_year[c.year] = per_year.get(c.year, 0) + 1
            counts = sorted(per_year.items(), reverse=True)
        source = {"id": "https://openalex.org/S1", "display_name": w.venue} if w.venue else None
        return {
            "id": f"https://openalex.org/{w.id}",
            "doi": f"https://doi.org/{w.doi}" if w.doi else None,
            "title": w.title,
            "display_name": w.title,
            "publication_year": w.year,
            "cited_by_count": w.cited_by_count if w.cited_by_count is not None else len(citing),
            "counts_by_year": [{"year": y, "cited_by_count": n} for y, n in counts],
            "primary_location": {"is_oa": True, "source": source},
            "referenced_works": [f"https://openalex.org/{r}" for r in w.cites],
            "referenced_works_count": len(w.cites),
        }


def _error(message: str, status: int = 400) -> Reply:
    body = {"error": "Invalid query parameters error.", "message": message}
    return Reply(status, json.dumps(body).encode(), JSON_TYPE)


def _doi_key(value: str) -> str:
    text = value.strip().lower()
    return text.removeprefix("https://doi.org/")


def works_responder(world: OpenAlexWorld) -> Callable[[Request], Reply]:
    """Answer ``GET /works?filter=doi:a|b`` / ``openalex:W1|W2`` / ``cites:W1`` like OpenAlex."""

    def respond(req: Request) -> Reply:
        if req.path.rstrip("/") != "/works":
            return _error(f"no route {req.path}", 404)
        flt = req.params.get("filter", "")
        name, _, value = flt.partition(":")
        values = [v for v in value.split("|") if v]
        if len(values) > MAX_OR_VALUES:
            return _error(f"Maximum number of values exceeded for {name}. Decrease values to {MAX_OR_VALUES} or below.")
        try:
            per_page = int(req.params.get("per-page", "25"))
        except ValueError:
            return _error("per-page is not a number")
        if not 1 <= per_page <= 200:
            return _error("per-page parameter must be between 1 and 200")
        if name == "doi":
            wanted = {_doi_key(v) for v in values}
            hits = [w for w in world.works.values() if w.doi and w.doi.lower() in wanted]
        elif name == "openalex":
            wanted = {v.upper().rsplit("/", 1)[-1] for v in values}
            hits = [w for w in world.works.values() if w.id in wanted]
        elif name == "cites" and len(values) == 1:
            hits = world.citing(values[0].upper())
        else:
            return _error(f"unsupported filter {flt!r}")
        cursor = req.params.get("cursor")
        start = 0
        if cursor and cursor != "*":
            if not cursor.startswith("c"):
                return _error("invalid cursor")
            start = int(cursor[1:])
        page = hits[start : start + per_page]
        more = cursor is not None and start + per_page < len(hits)
        objs = [world.as_json(w) for w in page]
        select = [s for s in req.params.get("select", "").split(",") if s]
        if select:
            known = set(objs[0]) if objs else set(world.as_json(Work("W0", "x")))
            bad = [s for s in select if s not in known]
            if bad:
                return _error(f"{bad[0]} is not a valid select field")
            objs = [{k: o[k] for k in select} for o in objs]
        meta = {"count": len(hits), "per_page": per_page, "next_cursor": f"c{start + per_page}" if more else None}
        return Reply(200, json.dumps({"meta": meta, "results": objs}).encode(), JSON_TYPE)

    return respond


@contextmanager
def openalex_server(
    world: OpenAlexWorld, fail: Callable[[Request], Reply | None] | None = None
) -> Iterator[ArxivServer]:
    """Serve ``world``; ``fail(request)`` may answer a request instead (None: the world answers)."""
    answer = works_responder(world)

    def respond(req: Request) -> Reply:
        if fail is not None:
            reply = fail(req)
            if reply is not None:
                return reply
        return answer(req)

    server = ArxivServer(respond).start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- a small citation world the tests share

SINKS, DENSE, MISSING = "2401.00001", "2401.00002", "2401.00003"  # the third is not in OpenAlex
RESNET = Work(
    "W900", "Deep Residual Learning for Image Recognition", 2016, "10.1109/cvpr.2016.90", cited_by_count=200_000
)
ADAM = Work("W901", "Adam: A Method for Stochastic Optimization", 2014, arxiv_doi("1412.6980"), cited_by_count=150_000)


def small_world(citing_sinks: int = 205) -> OpenAlexWorld:
    """Two arXiv papers (``SINKS`` = W101, ``DENSE`` = W102) and outside works: W101 cites W102, ResNet and
    Adam; W102 cites ResNet; ``citing_sinks`` outside works cite W101 (120 from 2024, the rest from 2025, so
    205 fill two pages of 200); one survey (W700) cites W102."""
    world = OpenAlexWorld().add(
        Work(
            "W101",
            "Attention Sinks in Sparse Transformers",
            2024,
            arxiv_doi(SINKS),
            "NeurIPS",
            ["W102", "W900", "W901"],
        ),
        Work("W102", "Dense Retrieval Baselines", 2024, arxiv_doi(DENSE).upper(), None, ["W900"]),
        RESNET,
        ADAM,
        Work(
            "W700",
            "A Survey of <i>Attention Sinks</i> &amp; More",
            2025,
            "10.1000/survey.1",
            "ACM Computing Surveys",
            ["W102"],
        ),
    )
    for n in range(citing_sinks):
        year = 2024 if n < 120 else 2025
        world.add(Work(f"W{2000 + n}", f"Follow-up study {n}", year, f"10.1000/follow.{n}", cites=["W101"]))
    return world

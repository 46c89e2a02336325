"""The citation graph in use: the map of related work (page, JSON, Chromium), "cited together" and "shares
references" among similar papers, ``sort=citations`` on search and the daily list, and trending's "most cited
this month". Real store (SQLite; PostgreSQL with PAPERFEED_TEST_BACKEND=postgresql), real search service,
small synthetic citation graphs (tests/citation_data.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.evaluation.citations import shared_links
from paperfeed.models import Author, Paper
from paperfeed.rank import citation_signals as cs
from paperfeed.rank.similar import Subject, rank_similar
from paperfeed.search.lexical import LexicalDoc, LexicalIndex
from paperfeed.web.app import create_app
from tests.citation_data import add_citations, add_small_graph
from tests.factories import add_papers, make_paper
from tests.servers import BROWSER_MARKS, chromium_tab, free_port, running

NOW = datetime.now(UTC).replace(microsecond=0)
TOPICS = {  # unrelated words, distinct authors: only the citation graph ties these papers together
    "P": ("Sparse attention for protein folding", "Transformers predict folded protein structures quickly."),
    "R1": ("Glacier melt in alpine valleys", "Measurements of ice loss across decades of summers."),
    "R2": ("Medieval trade routes of the Baltic", "Merchants shipped amber and grain between ports."),
    "C1": ("Sourdough fermentation kinetics", "Wild yeast and lactobacilli raise bread dough."),
    "C2": ("Coral reef bleaching events", "Warm oceans stress symbiotic algae in reefs."),
    "C3": ("Jazz improvisation and harmony", "Musicians reharmonise standards on the bandstand."),
    "X": ("Volcanic ash dispersal modelling", "Eruption plumes carry particles over continents."),
    "Y": ("Urban beekeeping yields", "Rooftop hives produce honey in dense cities."),
    "Q": ("Chess endgame tablebases", "Retrograde analysis solves positions with few pieces."),
    "S": ("Desert tortoise burrows", "Reptiles dig shelters against heat in arid land."),
}


def _papers(days_ago: float = 3) -> dict[str, Paper]:
    return {
        key: make_paper(
            title=title,
            abstract=abstract,
            authors=[Author(f"Author {key}")],
            categories=[f"q-bio.{key}"],
            primary_category=f"q-bio.{key}",
            published=NOW - timedelta(days=days_ago),
        )
        for key, (title, abstract) in TOPICS.items()
    }


@pytest.fixture
def graph_site(settings: Settings, engine: Engine) -> tuple[TestClient, dict[str, Paper]]:
    papers = _papers()
    add_papers(engine, list(papers.values()))
    add_small_graph(engine, {k: p.id for k, p in papers.items()})
    client = TestClient(create_app(settings))
    client.get("/")
    return client, papers


def _by_id(body: dict) -> dict[str, dict]:
    return {n["id"]: n for n in body["nodes"]}


def test_graph_api_has_the_paper_its_references_citations_and_both_relations(
    graph_site: tuple[TestClient, dict[str, Paper]],
) -> None:
    client, p = graph_site
    body = client.get(f"/api/v1/papers/{p['P'].id}/graph").json()
    nodes = _by_id(body)
    assert body["nodes"][0]["id"] == p["P"].id and body["nodes"][0]["relation"] == "paper"
    relation = {n["id"]: n["relation"] for n in body["nodes"]}
    assert relation == {
        p["P"].id: "paper",
        p["R1"].id: "reference",
        p["R2"].id: "reference",
        "W203": "reference",
        p["C1"].id: "citation",
        p["C2"].id: "citation",
        p["C3"].id: "citation",
        "W304": "citation",
        p["X"].id: "co-cited",
        p["Y"].id: "co-cited",
        p["Q"].id: "coupled",
        p["S"].id: "coupled",
    }
    # outside works: OpenAlex id, their title and a DOI link; papers of the store link to their page
    assert nodes["W203"]["title"] == "An Outside Reference on Graphs" and not nodes["W203"]["in_store"]
    assert nodes["W203"]["url"] == "https://doi.org/10.1000/outside.ref"
    assert nodes[p["R1"].id]["url"] == f"/papers/{p['R1'].id}" and nodes[p["R1"].id]["citations"] == 900
    assert nodes[p["R1"].id]["title"] == TOPICS["R1"][0] and nodes[p["R1"].id]["year"] == 2015
    assert nodes[p["X"].id]["strength"] == 3 and nodes[p["Q"].id]["strength"] == 2
    edges = {(e["source"], e["target"], e["kind"]): e["weight"] for e in body["edges"]}
    assert (p["P"].id, p["R1"].id, "cites") in edges and (p["C1"].id, p["P"].id, "cites") in edges
    assert ("W304", p["P"].id, "cites") in edges and (p["C1"].id, p["X"].id, "cites") in edges
    assert edges[(p["P"].id, p["X"].id, "co-cited")] == 3 and edges[(p["P"].id, p["Q"].id, "coupled")] == 2
    # nodes sized by citations, inside the picture, and the layout is the same on every request
    assert nodes[p["R1"].id]["r"] > nodes[p["C3"].id]["r"] > nodes[p["S"].id]["r"]
    assert all(0 <= n["x"] <= body["width"] and 0 <= n["y"] <= body["height"] for n in body["nodes"])
    assert client.get(f"/api/v1/papers/{p['P'].id}/graph").json() == body
    assert len({(n["x"], n["y"]) for n in body["nodes"]}) == len(body["nodes"])


def test_graph_page_draws_the_same_works_as_svg_and_as_a_list(
    graph_site: tuple[TestClient, dict[str, Paper]],
) -> None:
    client, p = graph_site
    page = client.get(f"/papers/{p['P'].id}").text
    assert f'href="/papers/{p["P"].id}/graph"' in page  # the paper page links to its map
    html = client.get(f"/papers/{p['P'].id}/graph").text
    svg = html.split("<svg", 1)[1].split("</svg>", 1)[0]
    listed = html.split('id="graph-list-title"', 1)[1]
    api = client.get(f"/api/v1/papers/{p['P'].id}/graph").json()
    for node in api["nodes"]:
        assert f'data-id="{node["id"]}"' in svg
        assert f'href="{node["url"]}"' in listed
    assert svg.count("<circle") == len(api["nodes"]) == 12
    assert svg.count("<line") == len(api["edges"])
    assert "cited together with this paper by 3 papers" in listed and "shares 2 references" in listed
    assert "Volcanic ash dispersal modelling" in listed and "An Outside Citing Survey" in listed


def test_graph_without_citation_data_says_so_and_unknown_papers_are_404(settings: Settings, engine: Engine) -> None:
    lone = make_paper(title="A paper nobody has cited")
    add_papers(engine, [lone])
    client = TestClient(create_app(settings))
    body = client.get(f"/api/v1/papers/{lone.id}/graph").json()
    assert [n["id"] for n in body["nodes"]] == [lone.id] and body["edges"] == []
    assert "No citation data" in body["warning"]
    assert "No citation data for this paper yet" in client.get(f"/papers/{lone.id}/graph").text
    missing = client.get("/api/v1/papers/2501.99999/graph")
    assert missing.status_code == 404 and "no paper with this id" in missing.json()["error"]
    assert client.get("/papers/2501.99999/graph").status_code == 404


def test_the_map_is_bounded_to_the_strongest_works(settings: Settings, engine: Engine) -> None:
    centre = make_paper(title="A much cited paper")
    add_papers(engine, [centre])
    works = {"W1": {"paper_id": centre.id, "cited_by_count": 400, "year": 2020}}
    cites: list[tuple[str, str]] = []
    for i in range(400):  # 400 citing works; each also cites one of 40 others, W-co-0 the most often
        works[f"Wc{i}"] = {"cited_by_count": i, "year": 2021}
        target = f"Wco{min(i % 60, 39)}"
        works.setdefault(target, {"cited_by_count": 1, "year": 2019})
        cites += [(f"Wc{i}", "W1"), (f"Wc{i}", target)]
    add_citations(engine, works, cites)
    client = TestClient(create_app(settings))
    body = client.get(f"/api/v1/papers/{centre.id}/graph").json()
    assert len(body["nodes"]) == 60
    rel = [n for n in body["nodes"] if n["relation"] == "citation"]
    assert {n["citations"] for n in rel} == set(range(399, 399 - len(rel), -1))  # the most cited citers
    co = [n for n in body["nodes"] if n["relation"] == "co-cited"]
    together = sum(1 for i in range(400) if min(i % 60, 39) == 39)  # residues 39..59 all land on Wco39
    assert co[0]["id"] == "Wco39" and co[0]["strength"] == together
    assert [n["strength"] for n in co] == sorted((n["strength"] for n in co), reverse=True)


def test_similar_papers_gain_cited_together_and_shares_references(
    graph_site: tuple[TestClient, dict[str, Paper]],
) -> None:
    client, p = graph_site
    body = client.get(f"/api/v1/papers/{p['P'].id}/similar", params={"limit": 10}).json()
    reasons = {h["paper"]["id"]: h["reason"] for h in body["data"]}
    assert reasons[p["X"].id] == "cited together with this paper by 3 papers"
    assert reasons[p["Y"].id] == "cited together with this paper by 1 paper"
    assert reasons[p["Q"].id] == "shares 2 references"
    assert p["S"].id not in reasons  # one shared reference and nothing else in common: not enough
    order = [h["paper"]["id"] for h in body["data"]]
    assert order.index(p["X"].id) < order.index(p["Y"].id)  # cited together by more papers ranks higher
    page = client.get(f"/papers/{p['P'].id}").text.split('id="similar-h"')[1]
    assert "cited together with this paper by 3 papers" in page and "shares 2 references" in page


def test_without_citation_ties_the_ranking_is_exactly_rank_similar(tmp_path: Path) -> None:
    lexical = LexicalIndex.open(tmp_path / "lexical")
    texts = [
        ("a", "Graph neural networks for molecules", "Message passing on molecular graphs."),
        ("b", "Molecular property prediction with graphs", "Graph networks predict molecule properties."),
        ("c", "Graph attention for chemistry", "Attention over molecular graphs."),
        ("d", "Bread baking science", "Yeast and flour."),
    ]
    lexical.add(LexicalDoc(pid, title, abstract, "") for pid, title, abstract in texts)
    lexical.commit()
    subject = Subject("a", texts[0][1], texts[0][2])
    before = rank_similar(subject, lexical=lexical, dense=None)
    after = cs.rank_with_citations(subject, cs.CitationTies(), lexical=lexical, dense=None)
    assert (after.ids, after.scores, after.reasons) == (before.ids, before.scores, before.reasons)
    tied = cs.rank_with_citations(subject, cs.CitationTies({"d": 4}), lexical=lexical, dense=None)
    assert tied.ids[0] == "d" and tied.reasons["d"] == "cited together with this paper by 4 papers"


def test_hidden_half_counts_shared_links_without_the_hidden_pair() -> None:
    links = {"q": {"a", "h"}, "a": {"q", "h", "z"}, "h": {"q", "a"}, "z": {"a"}}
    # q's hidden link h still counts through a (linked to both); q-h itself is gone
    assert shared_links(links, "q", {"h"}) == {"h": 1, "z": 1}


def test_sort_by_citations_on_search_and_the_daily_list(settings: Settings, engine: Engine) -> None:
    day = datetime(2024, 5, 6, 12, tzinfo=UTC)
    papers = [
        make_paper(title=f"Ocean acoustics study {n}", abstract="Sound travels through seawater.", published=day)
        for n in range(4)
    ]
    add_papers(engine, papers)
    counts = [5, 120, 0, 33]  # papers[2]: no citation data at all
    add_citations(
        engine,
        {f"W{i}": {"paper_id": p.id, "cited_by_count": counts[i]} for i, p in enumerate(papers) if i != 2},
        [],
    )
    expected = [papers[1].id, papers[3].id, papers[0].id, papers[2].id]
    client = TestClient(create_app(settings))
    client.get("/")
    body = client.get("/api/v1/search", params={"q": "ocean acoustics", "sort": "citations"}).json()
    assert body["sort"] == "citations"
    assert [h["paper"]["id"] for h in body["data"]] == expected
    page = client.get("/search", params={"q": "ocean acoustics", "sort": "citations"}).text
    assert _order(page, expected) == expected
    assert '<option value="citations" selected>' in page
    home = client.get("/", params={"date": "2024-05-06", "sort": "citations"}).text
    assert _order(home, expected) == expected
    assert re.search(r'href="[^"]*sort=citations[^"]*"\s+aria-current="true">Most cited<', home)
    hf = client.get("/api/daily_papers", params={"date": "2024-05-06", "sort": "citations"}).json()
    assert [row["paper"]["id"] for row in hf] == expected
    bad = client.get("/api/v1/search", params={"q": "ocean", "sort": "cites"})
    assert bad.status_code == 422 and "sort" in bad.text


def _order(html: str, ids: list[str]) -> list[str]:
    return sorted(ids, key=lambda pid: html.find(f"/papers/{pid}"))


def test_trending_most_cited_this_month(settings: Settings, engine: Engine) -> None:
    recent = [make_paper(title=f"Recent paper {n}", published=NOW - timedelta(days=n + 1)) for n in range(3)]
    old = make_paper(title="An old classic", published=NOW - timedelta(days=90))
    add_papers(engine, [*recent, old])
    counts = {recent[0].id: 2, recent[1].id: 40, recent[2].id: 0, old.id: 5000}
    add_citations(
        engine, {f"W{n}": {"paper_id": pid, "cited_by_count": c} for n, (pid, c) in enumerate(counts.items())}, []
    )
    client = TestClient(create_app(settings))
    page = client.get("/trending", params={"view": "cited"}).text
    assert "Most cited this month" in page
    assert _order(page, [recent[0].id, recent[1].id]) == [recent[1].id, recent[0].id]
    assert "cited by 40" in page and "cited by 2" in page
    assert old.id not in page and recent[2].id not in page  # older than 30 days; never cited
    assert 'href="/trending?view=cited"' in client.get("/trending").text


def test_most_cited_this_month_without_counts_says_how_to_get_them(settings: Settings, engine: Engine) -> None:
    add_papers(engine, [make_paper(title="Uncounted", published=NOW - timedelta(days=2))])
    page = TestClient(create_app(settings)).get("/trending", params={"view": "cited"}).text
    assert "No cited papers this month yet" in page and "paperfeed citations" in page


def _browser_test(test: Callable[..., None]) -> Callable[..., None]:
    for mark in BROWSER_MARKS:
        test = mark(test)
    return test


@_browser_test
def test_graph_page_in_chromium_renders_and_nodes_open_papers(settings: Settings, engine: Engine) -> None:
    papers = _papers()
    add_papers(engine, list(papers.values()))
    add_small_graph(engine, {k: p.id for k, p in papers.items()})
    port = free_port()
    site = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    with running(create_app(site), port) as url, chromium_tab(url) as tab:
        console_errors: list[str] = []
        tab.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
        tab.goto(f"/papers/{papers['P'].id}")
        tab.click("a.graph-link")
        tab.wait_for_url(f"**/papers/{papers['P'].id}/graph")
        svg = tab.locator("svg#citation-map")
        assert svg.is_visible()
        box = svg.bounding_box()
        assert box is not None and box["width"] > 400 and box["height"] > 250
        assert tab.locator("svg#citation-map circle").count() == 12
        assert tab.locator("svg#citation-map line").count() >= 14
        items = tab.locator(".graph-list li")
        assert items.count() == 12 and "Volcanic ash dispersal modelling" in items.all_inner_texts()[-4]
        node = tab.locator(f'svg#citation-map a[data-id="{papers["X"].id}"] circle')
        node.click()
        tab.wait_for_url(f"**/papers/{papers['X'].id}")
        assert tab.locator("h1").inner_text() == TOPICS["X"][0]
        assert not console_errors, console_errors

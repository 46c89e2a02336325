"""``paperfeed citations``: counts, venues, references and citing works from a stand-in OpenAlex on loopback;
reruns refresh counts without duplicate edges, a network failure stops cleanly and the next run goes on;
batches of 50, at most 10 requests a second, retries on 429/5xx; background rounds under ``--follow``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.ingest.citations import citations_in_background, fetch_citations
from paperfeed.ingest.http import PoliteClient
from paperfeed.store.citations import (
    citation_edges,
    citation_facts,
    citation_works,
    citations_of,
    references_of,
)
from paperfeed.store.papers import now_utc, upsert_papers
from paperfeed.store.schema import kv_state
from tests.arxiv_server import Reply, Request
from tests.factories import make_paper
from tests.openalex_server import (
    DENSE,
    MISSING,
    SINKS,
    OpenAlexWorld,
    Work,
    arxiv_doi,
    openalex_server,
    small_world,
)


def _store(engine: Engine, *ids: str) -> None:
    """Store papers ``ids``, the first the newest (papers never fetched are looked up newest first)."""
    day = datetime(2024, 6, 1, tzinfo=UTC)
    made = [make_paper(id=pid, title=f"Paper {pid}", published=day - timedelta(days=n)) for n, pid in enumerate(ids)]
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=made)


@pytest.fixture
def cli(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``paperfeed citations ARGS --db <the test store>`` against the stand-in at ``url``."""
    _store(engine, SINKS, DENSE, MISSING)
    monkeypatch.setenv("PAPERFEED_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("PAPERFEED_OPENALEX_MAILTO", "admin@example.org")
    monkeypatch.setenv("PAPERFEED_ARXIV_MAX_RETRIES", "1")
    monkeypatch.setenv("PAPERFEED_SEED_DEMO", "false")

    def invoke(*args: str, url: str) -> Any:
        monkeypatch.setenv("PAPERFEED_OPENALEX_URL", url)
        return CliRunner().invoke(app, ["citations", *args, "--db", settings.database_url])

    return invoke


def _report(result: Any) -> dict[str, Any]:
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _titles(works: list[Any]) -> list[str | None]:
    return [w.title for w in works]


def test_citations_cli_stores_counts_venue_references_and_citing_works(cli: Callable[..., Any], engine: Engine) -> None:
    with openalex_server(small_world()) as server:
        result = cli("--json", url=server.url)
        asked = [r.params for r in server.requests]
    assert result.exit_code == 0, result.output
    report = _report(result)
    assert (report["resolved"], report["not_found"], report["failed"]) == (2, 1, 0)
    assert report["edges"] == 4 + 205 + 1  # references of both, 205 works citing SINKS, the survey citing DENSE
    assert {p["id"]: p["outcome"] for p in report["papers"]} == {
        SINKS: "resolved",
        DENSE: "resolved",
        MISSING: "not_found",
    }

    lookup = asked[0]  # one batch: the three arXiv DOIs OR-ed, 50 a page, only the fields needed
    assert sorted(lookup["filter"].removeprefix("doi:").split("|")) == sorted(
        arxiv_doi(p) for p in (SINKS, DENSE, MISSING)
    )
    assert lookup["per-page"] == "50" and "referenced_works" in lookup["select"]
    assert all(q["mailto"] == "admin@example.org" for q in asked)  # OpenAlex's polite pool
    assert asked[1]["filter"] == "openalex:W900|W901"  # references known by id only get their titles
    cites = [(q["filter"], q["cursor"], q["per-page"]) for q in asked if q["filter"].startswith("cites:")]
    assert cites == [("cites:W101", "*", "200"), ("cites:W101", "c200", "200"), ("cites:W102", "*", "200")]

    with engine.connect() as conn:
        facts = citation_facts(conn=conn, paper_ids=[SINKS, DENSE, MISSING])
        refs = references_of(conn=conn, paper_id=SINKS, limit=10)
        citing_dense = citations_of(conn=conn, paper_id=DENSE, limit=10)
        citing_sinks = citations_of(conn=conn, paper_id=SINKS, limit=300)
    assert set(facts) == {SINKS, DENSE}
    assert facts[SINKS].openalex_id == "W101" and facts[SINKS].cited_by_count == 205
    assert facts[SINKS].counts_by_year == [(2025, 85), (2024, 120)] and facts[SINKS].venue == "NeurIPS"
    assert facts[DENSE].venue is None and facts[DENSE].cited_by_count == 2
    # most cited first; the paper of this store by its paper id, outside works with title, year and DOI
    assert _titles(refs) == [
        "Deep Residual Learning for Image Recognition",
        "Adam: A Method for Stochastic Optimization",
        "Dense Retrieval Baselines",
    ]
    assert (refs[0].paper_id, refs[0].year, refs[0].doi) == (None, 2016, "10.1109/cvpr.2016.90")
    assert refs[2].paper_id == DENSE and refs[2].openalex_id == "W102"
    assert [(w.paper_id, w.title) for w in citing_dense] == [
        (SINKS, "Attention Sinks in Sparse Transformers"),
        (None, "A Survey of Attention Sinks & More"),
    ]
    assert len(citing_sinks) == 205 and citing_sinks[0].year == 2025 and citing_sinks[-1].year == 2024


def test_a_rerun_refreshes_counts_and_adds_no_duplicate_edges(cli: Callable[..., Any], engine: Engine) -> None:
    world = small_world()
    with openalex_server(world) as server:
        first = _report(cli("--json", url=server.url))
        world.add(Work("W3000", "A 2026 follow-up", 2026, "10.1000/late", cites=["W101"]))
        second = _report(cli("--json", url=server.url))
        server.requests.clear()
        third = _report(cli("--json", url=server.url))
        third_asked = [r.params["filter"].split(":")[0] for r in server.requests]
    assert first["edges"] == 210 and second["edges"] == third["edges"] == 211
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(citation_edges)).scalar_one()
        facts = citation_facts(conn=conn, paper_ids=[SINKS])[SINKS]
    assert stored == 211
    assert facts.cited_by_count == 206 and facts.counts_by_year[0] == (2026, 1)
    # unchanged counts: the citing lists are not fetched again, only the lookup of the three papers
    assert third_asked == ["doi"] and third["resolved"] == 2


def test_a_network_failure_stops_cleanly_and_the_next_run_goes_on(cli: Callable[..., Any], engine: Engine) -> None:
    def second_page_down(req: Request) -> Reply | None:
        return Reply(503, b"busy") if req.params.get("cursor") == "c200" else None

    world = small_world()
    with openalex_server(world, fail=second_page_down) as server:
        broken = cli("--json", url=server.url)
        retried = sum(1 for r in server.requests if r.params.get("cursor") == "c200")
    assert broken.exit_code == 1
    assert "error: OpenAlex:" in broken.stderr and "HTTP 503" in broken.stderr and "run again" in broken.stderr
    report = _report(broken)
    assert (report["resolved"], report["not_found"], report["failed"]) == (0, 1, 2)
    assert retried == 2  # PAPERFEED_ARXIV_MAX_RETRIES=1: one retry with backoff, then the run stops
    assert report["edges"] == 4 + 200  # what came before the failure is kept

    with openalex_server(world) as server:
        again = cli("--json", url=server.url)
        first_cites = next(r.params["filter"] for r in server.requests if r.params["filter"].startswith("cites:"))
    assert again.exit_code == 0, again.output
    assert _report(again)["edges"] == 210 and _report(again)["failed"] == 0
    assert first_cites == "cites:W101"  # the unfinished list comes first
    with engine.connect() as conn:
        assert len(citations_of(conn=conn, paper_id=SINKS, limit=500)) == 205


def test_the_cli_says_what_it_did_and_names_a_bad_url(cli: Callable[..., Any]) -> None:
    with openalex_server(small_world()) as server:
        result = cli("--limit", "1", url=server.url)
    assert result.exit_code == 0, result.output
    assert "resolved 1, not found 0, failed 0; 208 citation edges stored" in result.stdout  # the newest paper only
    assert "resolved 2401.00003" not in result.stderr
    bad = cli(url="ftp://example.org")
    assert bad.exit_code == 1 and "PAPERFEED_OPENALEX_URL: not an http(s) URL" in bad.stderr


def _many(engine: Engine, n: int) -> tuple[list[str], OpenAlexWorld]:
    ids = [f"2402.{i:05d}" for i in range(1, n + 1)]
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id=pid) for pid in ids])
    world = OpenAlexWorld().add(
        *(Work(f"W{5000 + i}", f"Paper {pid}", 2024, arxiv_doi(pid)) for i, pid in enumerate(ids))
    )
    return ids, world


def test_batches_of_50_at_most_10_requests_a_second_and_429_retried(engine: Engine, settings: Settings) -> None:
    ids, world = _many(engine, 120)
    calls = {"n": 0}

    def first_rate_limited(req: Request) -> Reply | None:
        calls["n"] += 1
        return Reply(429, b"slow down", {"Retry-After": "1"}) if calls["n"] == 1 else None

    waits: list[tuple[str, float]] = []
    with openalex_server(world, fail=first_rate_limited) as server:
        conf = settings.model_copy(update={"openalex_url": server.url, "arxiv_max_retries": 2})
        client = PoliteClient(
            interval=0.1, max_retries=2, timeout=30, agent="test", on_wait=lambda r, s: waits.append((r, s))
        )
        with client:
            report = fetch_citations(engine=engine, settings=conf, client=client)
        asked = [r.params for r in server.requests]
        gaps = server.gaps()
    assert len(report.ids("resolved")) == 120 and report.error is None
    batches = [q["filter"].removeprefix("doi:").split("|") for q in asked]
    assert [len(b) for b in batches] == [50, 50, 50, 20]  # the 429'd batch asked again, then the rest
    assert batches[0] == batches[1]
    assert waits and waits[0][0] == "HTTP 429" and waits[0][1] >= 1.0 and gaps[0] >= 0.95  # Retry-After honoured
    assert min(gaps) >= 0.09  # paced: at most 10 requests a second, measured on the server
    assert not any(q["filter"].startswith("cites:") for q in asked)  # nobody cites them: nothing more to ask
    assert conf.openalex_request_interval == 0.1
    with pytest.raises(ValueError, match="greater than or equal to 0.1"):
        Settings(_env_file=None, openalex_request_interval=0.05)  # type: ignore[call-arg]


def test_background_rounds_fetch_new_papers_and_refresh_weekly(engine: Engine, settings: Settings) -> None:
    _store(engine, SINKS, DENSE, MISSING)
    world = small_world(citing_sinks=3)
    with openalex_server(world) as server:
        conf = settings.model_copy(update={"openalex_url": server.url})
        checks: list[int] = []
        first = citations_in_background(engine=engine, settings=conf, keep_going=lambda: checks.append(1))
        assert first is not None and first.ids("resolved") == [SINKS, DENSE] and checks
        server.requests.clear()
        quiet = citations_in_background(engine=engine, settings=conf, keep_going=lambda: None)
        assert quiet is not None and quiet.papers == [] and server.requests == []  # fresh, or known missing
        _store(engine, "2401.00009")  # a new paper arrives with the next harvest
        world.add(Work("W109", "Newly harvested", 2024, arxiv_doi("2401.00009"), cites=["W101"]))
        newer = citations_in_background(engine=engine, settings=conf, keep_going=lambda: None)
        assert newer is not None and newer.ids("resolved") == ["2401.00009"]
        with engine.begin() as conn:  # a week and a day later
            conn.execute(update(citation_works).values(fetched_at=now_utc() - timedelta(days=8)))
            conn.execute(update(kv_state).values(updated_at=now_utc() - timedelta(days=8)))
        server.requests.clear()
        weekly = citations_in_background(engine=engine, settings=conf, keep_going=lambda: None)
    assert weekly is not None and sorted(weekly.ids("resolved")) == sorted([SINKS, DENSE, "2401.00009"])
    assert weekly.ids("not_found") == [MISSING]  # tried again after a week too
    with engine.connect() as conn:
        assert citation_facts(conn=conn, paper_ids=[SINKS])[SINKS].cited_by_count == 4


def test_a_deleted_paper_keeps_the_graph_and_loses_only_its_link(engine: Engine, settings: Settings) -> None:
    _store(engine, SINKS, DENSE)
    with openalex_server(small_world(citing_sinks=2)) as server:
        fetch_citations(engine=engine, settings=settings.model_copy(update={"openalex_url": server.url}))
    from paperfeed.store.schema import papers

    with engine.begin() as conn:
        conn.execute(papers.delete().where(papers.c.id == DENSE))
        work = conn.execute(select(citation_works.c.paper_id).where(citation_works.c.id == "W102")).scalar_one()
        assert work is None
        refs = references_of(conn=conn, paper_id=SINKS, limit=10)
    assert [w.openalex_id for w in refs] == ["W900", "W901", "W102"] and refs[2].paper_id is None


def test_serve_follow_fetches_new_papers_citations_after_a_harvest_unless_turned_off(
    engine: Engine, settings: Settings
) -> None:
    from fastapi.testclient import TestClient

    from paperfeed.ingest.follow import Follower
    from paperfeed.web.app import create_app
    from tests.arxiv_server import OaiRecord, arxiv_server, oai_repository

    day = now_utc().date().isoformat()
    records = [OaiRecord("2611.00001", "Sparse mixture routing", "cs.LG", day, day)]
    world = OpenAlexWorld().add(
        Work("W1", "Sparse mixture routing", 2026, arxiv_doi("2611.00001"), "ICML"),
        Work("W2", "Routing, revisited", 2026, "10.1000/revisited", cites=["W1"]),
    )
    with arxiv_server(oai_repository(records)) as oai, openalex_server(world) as server:
        conf = settings.model_copy(
            update={
                "follow": "cs.LG",
                "arxiv_oai_url": oai.url + "/oai",
                "arxiv_max_retries": 0,
                "openalex_url": server.url,
            }
        )
        off = Follower(engine=engine, settings=conf.model_copy(update={"follow_citations": False}))
        off.tick()
        off.stop()  # hands the lease back
        assert server.requests == []  # turned off: the harvest ran, OpenAlex was not asked
        with engine.connect() as conn:
            assert citation_facts(conn=conn, paper_ids=["2611.00001"]) == {}
        with engine.begin() as conn:
            conn.execute(kv_state.delete().where(kv_state.c.key == "follow:status"))  # harvest again now
        Follower(engine=engine, settings=conf).tick()
        assert [r.params["filter"] for r in server.requests] == ["doi:10.48550/arxiv.2611.00001", "cites:W1"]
    with TestClient(create_app(settings)) as client:
        page = client.get("/papers/2611.00001").text
    assert "Cited by 1" in page and "ICML" in page and "Routing, revisited" in page


def test_a_new_count_seen_anywhere_makes_the_citing_list_due_and_one_work_per_paper(engine: Engine) -> None:
    from paperfeed.store.citations import WorkRecord, citing_incomplete, mark_citing_complete, store_works

    _store(engine, SINKS)
    with engine.begin() as conn:
        store_works(conn=conn, works=[WorkRecord("W1", paper_id=SINKS, cited_by_count=5)], fetched_at=now_utc())
        mark_citing_complete(conn=conn, work_id="W1")
        store_works(conn=conn, works=[WorkRecord("W1", title="Seen in a list", cited_by_count=5)])
        assert citing_incomplete(conn=conn, work_ids=["W1"]) == []  # same count: nothing to follow again
        store_works(conn=conn, works=[WorkRecord("W1", cited_by_count=6)])
        assert citing_incomplete(conn=conn, work_ids=["W1"]) == [("W1", 6)]
        # a second OpenAlex work with the paper's DOI in someone's list does not take the paper...
        store_works(conn=conn, works=[WorkRecord("W2", paper_id=SINKS, title="Duplicate")])
        assert citation_facts(conn=conn, paper_ids=[SINKS])[SINKS].openalex_id == "W1"
        # ...but the work found by the paper's own DOI does
        store_works(conn=conn, works=[WorkRecord("W2", paper_id=SINKS, cited_by_count=9)], fetched_at=now_utc())
        assert citation_facts(conn=conn, paper_ids=[SINKS])[SINKS].openalex_id == "W2"
        kept = conn.execute(
            select(citation_works.c.title, citation_works.c.paper_id).where(citation_works.c.id == "W1")
        )
        assert kept.one() == ("Seen in a list", None)  # a field fetched as None keeps its stored value

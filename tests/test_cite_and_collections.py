"""Citing (/papers/{id}.bib, paperfeed export --format bibtex) and public collections (/c/{slug})."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import bibtexparser
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from typer.testing import CliRunner

from paperfeed.cli import app as cli
from paperfeed.config import Settings
from tests.community_helpers import csrf_of, member, sign_in
from tests.factories import corpus, site_client


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with site_client(settings, corpus("cite")) as c:  # tests/fixtures/papers/cite.toml
        engine = c.app.state.engine  # type: ignore[attr-defined]
        member(engine, "ada")
        member(engine, "bob")
        yield c


def test_bibtex_of_an_arxiv_paper_is_in_the_form_arxiv_recommends(client: TestClient) -> None:
    r = client.get("/papers/1706.03762.bib")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-bibtex")
    entry = bibtexparser.parse_string(r.text).entries[0]
    assert entry.entry_type == "misc"
    fields = {f.key: f.value for f in entry.fields}
    assert fields["eprint"] == "1706.03762" and fields["archivePrefix"] == "arXiv"
    assert fields["primaryClass"] == "cs.CL" and fields["url"] == "https://arxiv.org/abs/1706.03762"
    assert fields["author"] == "Ashish Vaswani and Noam Shazeer"
    assert client.get("/papers/9999.99999.bib").status_code == 404


def test_paper_page_has_cite_and_share_buttons_without_inline_scripts(client: TestClient) -> None:
    page = client.get("/papers/1706.03762").text
    assert 'data-cite="/papers/1706.03762.bib"' in page
    assert (
        'data-reference="Ashish Vaswani and Noam Shazeer. Attention Is All You Need. arXiv:1706.03762 [cs.CL], 2024."'
        in page
    )
    assert 'data-share="/papers/1706.03762"' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)


def _save(client: TestClient, token: str, paper: str, collection: int) -> None:
    r = client.post(
        f"/papers/{paper}/save",
        data={"csrf_token": token, "action": "save", "collection": str(collection)},
        follow_redirects=False,
    )
    assert r.status_code == 303


def _make_public_collection(client: TestClient) -> tuple[int, str]:
    token = sign_in(client, "ada")
    r = client.post("/library/collections", data={"name": "Reading group", "csrf_token": token}, follow_redirects=False)
    cid = int(r.headers["location"].split("c=")[1])
    _save(client, token, "1706.03762", cid)
    _save(client, token, "1512.03385", cid)
    share = f"/library/collections/{cid}/share"
    assert "Private" in client.get(share).text
    client.post(
        f"/library/collections/{cid}/public",
        data={"csrf_token": token, "public": "true", "description": "Papers for Thursday"},
    )
    client.post(f"/library/collections/{cid}/items/1706.03762/note", data={"csrf_token": token, "note": "Read first"})
    page = client.get(share).text
    slug = re.search(r'href="/c/([^"]+)">/c/', page).group(1)  # type: ignore[union-attr]
    return cid, slug


def test_a_public_collection_shows_notes_in_the_owners_order_with_a_feed(client: TestClient) -> None:
    cid, slug = _make_public_collection(client)
    token = csrf_of(client.get(f"/library/collections/{cid}/share").text)
    client.post(f"/library/collections/{cid}/items/1706.03762/move", data={"csrf_token": token, "step": "-1"})
    client.cookies.clear()  # anyone, signed out
    page = client.get(f"/c/{slug}").text
    titles = re.findall(r'<h3><a href="/papers/[^"]+">([^<]+)</a></h3>', page)
    assert titles == ["Attention Is All You Need", "Deep Residual Learning for Image Recognition"]  # moved up
    assert "Read first" in page and "Papers for Thursday" in page and "@ada" in page
    feed = etree.fromstring(client.get(f"/c/{slug}.atom").content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert [t.text for t in feed.findall("a:entry/a:title", ns)] == titles
    assert "Note: Read first" in feed.findall("a:entry/a:summary", ns)[0].text
    profile = client.get("/u/ada").text
    assert f'href="/c/{slug}"' in profile


def test_a_collection_made_private_again_is_gone_and_others_cannot_share_it(client: TestClient) -> None:
    cid, slug = _make_public_collection(client)
    token = csrf_of(client.get(f"/library/collections/{cid}/share").text)
    client.post(f"/library/collections/{cid}/public", data={"csrf_token": token, "public": "false"})
    assert client.get(f"/c/{slug}").status_code == 404
    client.cookies.clear()
    token = sign_in(client, "bob")
    r = client.post(f"/library/collections/{cid}/public", data={"csrf_token": token, "public": "true"})
    assert r.status_code == 404
    assert client.get(f"/c/{slug}").status_code == 404


def test_export_bibtex_of_everything_and_of_one_collection(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    _make_public_collection(client)
    env = {
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_DATABASE_URL": settings.database_url,
        "PAPERFEED_SEED_DEMO": "false",
        "PAPERFEED_EMBEDDER": "none",
    }
    out = tmp_path / "all.bib"
    result = CliRunner().invoke(cli, ["export", "--format", "bibtex", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert len(bibtexparser.parse_string(out.read_text()).entries) == 3
    result = CliRunner().invoke(cli, ["export", "--format", "bibtex", "--collection", "Reading group"], env=env)
    assert result.exit_code == 0, result.output
    eprints = [
        next(f.value for f in e.fields if f.key == "eprint") for e in bibtexparser.parse_string(result.stdout).entries
    ]
    assert eprints == ["1512.03385", "1706.03762"]  # the collection's order: newest saved first
    missing = CliRunner().invoke(cli, ["export", "--format", "bibtex", "--collection", "Nope"], env=env)
    assert missing.exit_code != 0 and "no collection named 'Nope'" in missing.output
    bad = CliRunner().invoke(cli, ["export", "--format", "ris"], env=env)
    assert bad.exit_code == 2 and "jsonl, bibtex" in bad.output


def test_years_come_from_the_publication_date_or_the_arxiv_id_never_from_when_the_paper_was_added(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    from paperfeed.models import Author
    from tests.factories import add_papers, make_paper

    engine = client.app.state.engine  # type: ignore[attr-defined]
    names = ["Aditya Kusupati", "Gantavya Bhatt", "Aniket Rege", "Matthew Wallingford"]
    undated = {"published": None, "updated": None, "versions": []}  # like the demo papers: only first_seen
    add_papers(
        engine,
        [
            make_paper(
                id="2205.13147",
                title="Matryoshka Representation Learning",
                authors=[Author(n) for n in names],
                primary_category="cs.LG",
                **undated,
            ),
            make_paper(id="pf-0123456789abcdef", title="Universal Checkpointing", authors=[], **undated),
        ],
    )
    fields = {
        f.key: f.value for f in bibtexparser.parse_string(client.get("/papers/2205.13147.bib").text).entries[0].fields
    }
    assert fields["year"] == "2022"  # from the arXiv id 2205 (May 2022), not from today
    demo = bibtexparser.parse_string(client.get("/papers/pf-0123456789abcdef.bib").text).entries[0]
    assert "year" not in {f.key for f in demo.fields} and demo.key == "universal"  # no year at all, none invented
    page = client.get("/papers/2205.13147").text
    assert (
        'data-reference="Aditya Kusupati et al. Matryoshka Representation Learning. arXiv:2205.13147 [cs.LG], 2022."'
        in page
    )
    assert "Universal Checkpointing." in client.get("/papers/pf-0123456789abcdef").text
    env = {
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_DATABASE_URL": settings.database_url,
        "PAPERFEED_SEED_DEMO": "false",
        "PAPERFEED_EMBEDDER": "none",
    }
    result = CliRunner().invoke(cli, ["export", "--format", "bibtex"], env=env)
    assert result.exit_code == 0, result.output
    entries = {e.key: {f.key: f.value for f in e.fields} for e in bibtexparser.parse_string(result.stdout).entries}
    assert entries["kusupati2022matryoshka"]["year"] == "2022"
    assert "year" not in entries["universal"]
    assert "2026" not in result.stdout and str(__import__("datetime").date.today().year) not in result.stdout
    assert entries["vaswani2024attention"]["year"] == "2024"  # a publication date wins (the fixture's: 2024)


def test_a_public_collections_slug_is_its_name_and_gets_a_number_only_when_taken(client: TestClient) -> None:
    _, slug = _make_public_collection(client)  # ada's "Reading group"
    assert slug == "reading-group"  # no "-2" when no other collection has that name
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/account").text)})
    token = sign_in(client, "bob")
    r = client.post(
        "/library/collections", data={"name": "Reading Group!", "csrf_token": token}, follow_redirects=False
    )
    cid = int(r.headers["location"].split("c=")[1])
    client.post(f"/library/collections/{cid}/public", data={"csrf_token": token, "public": "true", "description": ""})
    page = client.get(f"/library/collections/{cid}/share").text
    assert re.search(r'href="/c/([^"]+)">/c/', page).group(1) == "reading-group-2"  # type: ignore[union-attr]
    assert "Reading group" in client.get("/c/reading-group").text
    assert "Reading Group!" in client.get("/c/reading-group-2").text

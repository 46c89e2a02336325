"""Smaller leaks (issue 21, item 8): search page links on the configured base URL, CSRF tokens bound to the
session, mailed-link tokens kept out of the access log, private caching of member pages, two admins demoting
each other at once, URL-encoded DOI links, invisible characters in names, an index folder replaced by a file."""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from paperfeed.community.users import add_user
from paperfeed.config import Settings
from paperfeed.search.generations import FileGenerations
from paperfeed.store.library import collections_for_user
from paperfeed.store.roles import set_role
from paperfeed.store.users import get_user_by_username
from paperfeed.web.app import create_app
from tests.community_helpers import PASSWORD, csrf_of, sign_in
from tests.factories import make_paper, site_client
from tests.servers import free_port, running, serve_command


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    papers = [make_paper(title=f"Graph networks part {i}") for i in range(3)]
    papers.append(make_paper(id="2401.09999", title="A paper with an odd DOI", doi="10.1000/a#b?c d<e"))
    with site_client(settings, papers) as c:
        yield c


def _member(client: TestClient, name: str, role: str = "member") -> None:
    with client.app.state.engine.begin() as conn:  # type: ignore[attr-defined]
        add_user(conn=conn, username=name, email=f"{name}@example.org", password=PASSWORD, role=role)  # type: ignore[arg-type]


def test_search_page_links_use_the_configured_base_url_not_the_host_header(settings: Settings) -> None:
    papers = [make_paper(title=f"Graph networks part {i}") for i in range(3)]
    with site_client(settings.model_copy(update={"base_url": "https://papers.example.org"}), papers) as client:
        _search_pages(client)


def _search_pages(client: TestClient) -> None:
    r = client.get(
        "/api/v1/search", params={"q": "graph", "limit": 1, "mode": "bm25"}, headers={"Host": "evil.example"}
    )
    body = r.json()
    assert body["total"] == 3 and body["next"].startswith("https://papers.example.org/api/v1/search?")
    assert "offset=1" in body["next"] and "evil.example" not in r.text
    second = client.get(body["next"].removeprefix("https://papers.example.org"), headers={"Host": "evil.example"})
    assert second.json()["prev"].startswith("https://papers.example.org/api/v1/search?")


def test_doi_links_are_url_encoded(client: TestClient) -> None:
    links = client.get("/api/v1/papers/2401.09999").json()["links"]
    assert links["doi"] == "https://doi.org/10.1000/a%23b%3Fc%20d%3Ce"
    assert "https://doi.org/10.1000/a%23b%3Fc%20d%3Ce" in client.get("/papers/2401.09999.md").text


def test_a_planted_csrf_cookie_with_a_token_minted_for_it_is_refused(client: TestClient, settings: Settings) -> None:
    """The attacker mints a token for a CSRF cookie they chose, plants that cookie in the victim's browser and
    sends the victim a form carrying the token: refused, because the token is not the victim's session's."""
    with TestClient(create_app(client.app.state.settings)) as attacker:  # type: ignore[attr-defined]
        minted = csrf_of(attacker.get("/login").text)
        planted = attacker.cookies["pf_csrf"]
    _member(client, "victim")
    own_token = sign_in(client, "victim")
    client.cookies.set("pf_csrf", planted)  # the planted cookie replaces the victim's
    forged = client.post("/library/collections", data={"csrf_token": minted, "name": "Planted"}, follow_redirects=False)
    assert forged.status_code == 400 and "did not come from this site" in forged.text
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        user = get_user_by_username(conn=conn, username="victim")
        assert user is not None
        assert "Planted" not in [c.name for c in collections_for_user(conn=conn, user_id=user.id)]
    assert own_token != minted


def test_member_pages_are_not_cached_by_shared_caches(client: TestClient) -> None:
    _member(client, "ada")
    sign_in(client, "ada")
    for path in ("/account", "/library", "/"):
        r = client.get(path)
        assert r.status_code == 200 and "private" in r.headers["cache-control"], path
    client.cookies.clear()
    assert "private" not in client.get("/").headers.get("cache-control", "")  # anonymous pages may be cached


def test_names_with_direction_or_invisible_characters_are_refused(client: TestClient) -> None:
    token = csrf_of(client.get("/signup").text)
    form = {"email": "eve@example.org", "username": "eve", "password": PASSWORD, "csrf_token": token}
    r = client.post("/signup", data={**form, "display_name": "Admin\u202e"}, follow_redirects=False)
    assert r.status_code == 400 and "invisible or direction-changing characters (U+202E" in r.text
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        assert get_user_by_username(conn=conn, username="eve") is None
    topics = client.post("/api/v1/subscriptions", json={"email": "eve@example.org", "topics": ["graph\u200bnets"]})
    assert topics.status_code in (422, 503)  # refused before anything else (503: no mail on this instance)


def test_mailed_link_tokens_never_reach_the_access_log(tmp_path: Path) -> None:
    secret = "eyJzdWIiOjF9.ZmFrZS10b2tlbi1mb3ItdGhlLWxvZw.c2lnbmF0dXJl"
    with serve_command(tmp_path, "/api/daily_papers") as url:
        for path in ("/subscriptions/confirm/", "/subscriptions/manage/", "/unsubscribe/", "/account/verify/"):
            httpx.get(url + path + secret, timeout=30)
        httpx.get(url + "/api/daily_papers?marker=done", timeout=30)
        log = tmp_path / "serve.log"
        for _ in range(100):
            if "marker=done" in log.read_text():
                break
            httpx.get(url + "/api/daily_papers?marker=done", timeout=30)
    text = log.read_text()
    assert secret not in text
    assert text.count("[redacted]") >= 4 and "/subscriptions/confirm/[redacted]" in text


def _admin_browser(url: str, name: str) -> tuple[httpx.Client, str]:
    http = httpx.Client(base_url=url, timeout=60)
    token = csrf_of(http.get("/login").text)
    r = http.post("/login", data={"email": name, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303, r.text
    return http, csrf_of(http.get("/admin/users").text)


def test_two_admins_demoting_each_other_at_once_leave_one_admin(settings: Settings) -> None:
    """Real parallel requests against a served instance, five rounds (the finding: zero admins in 1 of 5)."""
    app = create_app(settings)
    with running(app, free_port()) as url:
        engine = app.state.engine
        for round_ in range(5):
            a, b = f"alice{round_}", f"bob{round_}"
            with engine.begin() as conn:
                for name in (a, b):
                    add_user(conn=conn, username=name, email=f"{name}@example.org", password=PASSWORD, role="admin")
                if round_:  # the previous round's survivor steps down: only a and b are admins now
                    for old in (f"alice{round_ - 1}", f"bob{round_ - 1}"):
                        user = get_user_by_username(conn=conn, username=old)
                        assert user is not None
                        set_role(conn=conn, user_id=user.id, role="member")
            (ha, ta), (hb, tb) = _admin_browser(url, a), _admin_browser(url, b)
            with ThreadPoolExecutor(2) as pool:
                answers = list(
                    pool.map(
                        lambda job: job[0].post(
                            f"/admin/users/{job[2]}/role", data={"csrf_token": job[1], "role": "member"}
                        ),
                        [(ha, ta, b), (hb, tb, a)],
                    )
                )
            ha.close(), hb.close()
            with engine.connect() as conn:
                roles = {n: get_user_by_username(conn=conn, username=n).role for n in (a, b)}  # type: ignore[union-attr]
            assert sorted(roles.values()) == ["admin", "member"], (round_, roles, [r.status_code for r in answers])
            refused = [r for r in answers if r.status_code in (400, 403)]  # 403: demoted before its request began
            assert len(refused) == 1 and re.search(r"only admin|no longer an admin|Only admins", refused[0].text)


def test_an_index_folder_replaced_by_a_file_is_reported_and_rebuilt(
    settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer finds the damage, says so to every reader (the pointer carries it) until a whole generation
    is published, and answers are whole again; a real server's answers in between carry the warning
    (tests/test_index_damage.py)."""
    said: list[list[str]] = []
    mark = FileGenerations.mark_damage

    def spy(self: FileGenerations, damage: list[str]) -> None:
        said.append(list(damage))
        mark(self, damage)

    monkeypatch.setattr(FileGenerations, "mark_damage", spy)
    with site_client(settings, [make_paper(title=f"Graph networks part {i}") for i in range(3)]) as c:
        c.app.state.searcher.refresh()  # type: ignore[attr-defined]
        files = FileGenerations(settings.index_dir)
        published = files.current()
        assert published is not None
        lexical = files.folder(published, "lexical")
        shutil.rmtree(lexical)
        lexical.write_text("not an index")
        caplog.set_level(logging.WARNING)
        again = c.get("/api/v1/search", params={"q": "graph", "mode": "bm25"}).json()  # the writer runs first
        assert said and any("a file where the index folder belongs" in d for d in said[0])
        assert any("a file where the index folder belongs" in r.getMessage() for r in caplog.records)
        repaired = files.current()
        assert repaired is not None and repaired.generation != published.generation and not repaired.damage
        assert files.folder(repaired, "lexical").is_dir()
        assert again["total"] == 3 and again["warning"] is None
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]

"""Discussion API: posting, replies, editing, deleting, votes, reports, moderation, rate limits, counts, feed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.store.comments import add_comment
from paperfeed.store.submissions import add_submission
from tests.community_helpers import member
from tests.factories import make_paper, site_client

PAPER = "2401.00001"
OTHER = "2401.00002"
URL = f"/api/v1/papers/{PAPER}/comments"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    papers = [
        make_paper(id=PAPER, title="Graph networks for molecules"),
        make_paper(id=OTHER, title="Protein folding with diffusion"),
    ]
    with site_client(settings, papers) as c:
        yield c


def engine_of(client: TestClient) -> Engine:
    return client.app.state.engine  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def ada(client: TestClient) -> dict[str, str]:
    return member(engine_of(client), "ada")[1]


@pytest.fixture
def bob(client: TestClient) -> dict[str, str]:
    return member(engine_of(client), "bob")[1]


@pytest.fixture
def mod(client: TestClient) -> dict[str, str]:
    return member(engine_of(client), "moe", role="moderator")[1]


def post(client: TestClient, headers: dict[str, str], body: str, parent: int | None = None, url: str = URL) -> Any:
    return client.post(url, json={"body": body, "parent": parent}, headers=headers)


def listing(client: TestClient, headers: dict[str, str] | None = None) -> dict[str, Any]:
    r = client.get(URL, headers=headers or {})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_comment_and_reply_are_listed_as_a_thread(client: TestClient, ada: dict[str, str], bob: dict[str, str]) -> None:
    r = post(client, ada, "Nice **results** on QM9.")
    assert r.status_code == 201
    first = r.json()
    assert first["body"] == "Nice **results** on QM9."
    assert first["html"] == "<p>Nice <strong>results</strong> on QM9.</p>\n"
    assert first["author"] == {"username": "ada", "display_name": "ada"}
    assert first["parent"] is None and first["edited"] is False and first["upvotes"] == 0
    assert first["url"] == f"http://testserver/papers/{PAPER}#comment-{first['id']}"

    reply = post(client, bob, "Agreed, see table 2.", parent=first["id"])
    assert reply.status_code == 201 and reply.json()["parent"] == first["id"]

    body = listing(client)
    assert body["paper_id"] == PAPER and body["count"] == 2
    assert [c["id"] for c in body["data"]] == [first["id"]]
    assert [(x["author"]["username"], x["body"]) for x in body["data"][0]["replies"]] == [
        ("bob", "Agreed, see table 2.")
    ]


def test_markdown_is_sanitised(client: TestClient, ada: dict[str, str]) -> None:
    hostile = (
        "<script>alert(1)</script> [click](javascript:alert(2)) <img src=x onerror=alert(3)> "
        "[safe](https://example.org/a) ![pic](https://tracker.example/p.png)\n\n# Heading"
    )
    html = post(client, ada, hostile).json()["html"]
    assert "<script" not in html and "<img" not in html  # raw HTML stays text: &lt;img ... onerror=...&gt;
    assert 'href="javascript' not in html
    assert '<a href="https://example.org/a" rel="nofollow ugc">safe</a>' in html
    assert "&lt;script&gt;" in html  # shown as text
    assert "<h1" not in html and "# Heading" in html


def test_writing_needs_a_token(client: TestClient) -> None:
    r = client.post(URL, json={"body": "hello", "parent": None})
    assert r.status_code == 401
    assert "Bearer" in r.json()["error"]
    r = client.post(URL, json={"body": "hello"}, headers={"Authorization": "Bearer pf_not_a_token"})
    assert r.status_code == 401 and "unknown" in r.json()["error"]
    assert listing(client)["count"] == 0


def test_replies_go_one_level_deep(client: TestClient, ada: dict[str, str], bob: dict[str, str]) -> None:
    top = post(client, ada, "top").json()["id"]
    reply = post(client, bob, "reply", parent=top).json()["id"]
    r = post(client, ada, "reply to a reply", parent=reply)
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "parent"
    assert f"reply to comment {top}" in r.json()["error"]
    elsewhere = post(client, ada, "other paper", url=f"/api/v1/papers/{OTHER}/comments").json()["id"]
    r = post(client, ada, "wrong paper", parent=elsewhere)
    assert r.status_code == 422 and "no comment" in r.json()["error"]
    assert listing(client)["count"] == 2


@pytest.mark.parametrize(
    ("body", "why"),
    [("   \n ", "empty"), ("x" * 10_001, "at most 10000"), ("a\x00b", "control characters")],
)
def test_bad_bodies_are_refused_naming_the_field(client: TestClient, ada: dict[str, str], body: str, why: str) -> None:
    r = post(client, ada, body)
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "body"
    assert why in r.json()["error"]
    assert listing(client)["count"] == 0


def test_unknown_paper_and_comment_are_404(client: TestClient, ada: dict[str, str]) -> None:
    r = client.get("/api/v1/papers/9999.99999/comments")
    assert r.status_code == 404 and "no paper" in r.json()["error"]
    assert post(client, ada, "x", url="/api/v1/papers/9999.99999/comments").status_code == 404
    r = client.patch("/api/v1/comments/12345", json={"body": "x"}, headers=ada)
    assert r.status_code == 404 and "no comment 12345" in r.json()["error"]


def test_only_the_author_edits_and_the_edit_shows(client: TestClient, ada: dict[str, str], bob: dict[str, str]) -> None:
    cid = post(client, ada, "first version").json()["id"]
    r = client.patch(f"/api/v1/comments/{cid}", json={"body": "someone else's words"}, headers=bob)
    assert r.status_code == 403 and "only the author" in r.json()["error"]
    r = client.patch(f"/api/v1/comments/{cid}", json={"body": "second _version_"}, headers=ada)
    assert r.status_code == 200
    assert r.json()["edited"] is True and r.json()["edited_at"] is not None
    shown = listing(client)["data"][0]
    assert shown["body"] == "second _version_" and shown["html"] == "<p>second <em>version</em></p>\n"
    assert shown["edited"] is True


def test_delete_own_comment_and_tombstone_with_replies(
    client: TestClient, ada: dict[str, str], bob: dict[str, str]
) -> None:
    lone = post(client, ada, "to be removed").json()["id"]
    assert client.delete(f"/api/v1/comments/{lone}", headers=bob).status_code == 403
    r = client.delete(f"/api/v1/comments/{lone}", headers=ada)
    assert r.status_code == 200 and r.json() == {"id": lone, "deleted": True, "removed": True}
    assert listing(client) == {"paper_id": PAPER, "count": 0, "data": []}

    top = post(client, ada, "has a reply").json()["id"]
    post(client, bob, "the reply", parent=top)
    assert client.delete(f"/api/v1/comments/{top}", headers=ada).json()["removed"] is False
    body = listing(client)
    assert body["count"] == 1
    assert body["data"][0]["deleted"] is True and body["data"][0]["body"] is None
    assert body["data"][0]["replies"][0]["body"] == "the reply"
    assert client.delete(f"/api/v1/comments/{top}", headers=ada).status_code == 404


def test_moderators_hide_and_restore(
    client: TestClient, ada: dict[str, str], bob: dict[str, str], mod: dict[str, str]
) -> None:
    cid = post(client, ada, "spam spam spam").json()["id"]
    post(client, bob, "a fine comment")
    r = client.post(f"/api/v1/comments/{cid}/hide", headers=bob)
    assert r.status_code == 403 and "only moderators" in r.json()["error"]
    r = client.post(f"/api/v1/comments/{cid}/hide", headers=mod)
    assert r.status_code == 200 and r.json()["hidden"] is True

    public = listing(client)
    assert public["count"] == 1
    hidden = next(c for c in public["data"] if c["id"] == cid)
    assert hidden["hidden"] is True and hidden["body"] is None and hidden["html"] is None
    assert next(c for c in listing(client, mod)["data"] if c["id"] == cid)["body"] == "spam spam spam"
    assert client.get(f"/api/papers/{PAPER}").json()["numComments"] == 1

    assert client.post(f"/api/v1/comments/{cid}/restore", headers=bob).status_code == 403
    r = client.post(f"/api/v1/comments/{cid}/restore", headers=mod)
    assert r.status_code == 200 and r.json()["hidden"] is False
    assert listing(client)["count"] == 2
    assert client.get(f"/api/papers/{PAPER}").json()["numComments"] == 2


def test_comment_upvotes(client: TestClient, ada: dict[str, str], bob: dict[str, str]) -> None:
    cid = post(client, ada, "vote for me").json()["id"]
    for _ in range(2):
        r = client.post(f"/api/v1/comments/{cid}/vote", headers=bob)
        assert r.json() == {"id": cid, "upvotes": 1, "voted": True}
    assert listing(client, bob)["data"][0]["voted"] is True
    assert listing(client)["data"][0]["upvotes"] == 1
    assert client.delete(f"/api/v1/comments/{cid}/vote", headers=bob).json() == {
        "id": cid,
        "upvotes": 0,
        "voted": False,
    }


def test_reports_queue_for_moderators(
    client: TestClient, ada: dict[str, str], bob: dict[str, str], mod: dict[str, str]
) -> None:
    cid = post(client, ada, "rude words").json()["id"]
    r = client.post(f"/api/v1/comments/{cid}/report", json={"reason": "abusive"}, headers=bob)
    assert r.json() == {"id": cid, "reported": True, "queued": True}
    assert (
        client.post(f"/api/v1/comments/{cid}/report", json={"reason": "again"}, headers=bob).json()["queued"] is False
    )
    own = client.post(f"/api/v1/comments/{cid}/report", json={"reason": "me"}, headers=ada)
    assert own.status_code == 422 and "your own comment" in own.json()["error"]

    assert client.get("/api/v1/moderation/reports", headers=bob).status_code == 403
    queue = client.get("/api/v1/moderation/reports", headers=mod).json()
    assert queue["count"] == 1
    assert queue["data"][0]["comment"]["body"] == "rude words"
    assert queue["data"][0]["reasons"] == ["abusive"] and queue["data"][0]["reporters"] == ["bob"]

    client.post(f"/api/v1/comments/{cid}/hide", headers=mod)
    assert client.get("/api/v1/moderation/reports", headers=mod).json() == {"count": 0, "data": []}


def test_rate_limit_per_minute_answers_429(client: TestClient, ada: dict[str, str], bob: dict[str, str]) -> None:
    for i in range(5):
        assert post(client, ada, f"comment {i}").status_code == 201
    r = post(client, ada, "one too many")
    assert r.status_code == 429
    assert "5 comments a minute" in r.json()["error"]
    assert 1 <= int(r.headers["Retry-After"]) <= 61
    assert post(client, bob, "another member is not limited").status_code == 201
    assert listing(client)["count"] == 6


def test_rate_limit_per_day(client: TestClient, ada: dict[str, str]) -> None:
    engine = engine_of(client)
    earlier = datetime.now(UTC) - timedelta(hours=2)
    with engine.begin() as conn:
        for i in range(50):
            add_comment(conn=conn, paper_id=PAPER, user_id=1, body=f"old {i}", parent_id=None, when=earlier)
    r = post(client, ada, "the 51st today")
    assert r.status_code == 429 and "50 comments a day" in r.json()["error"]
    assert int(r.headers["Retry-After"]) > 20 * 3600


def test_report_rate_limit_per_day(client: TestClient, ada: dict[str, str], bob: dict[str, str]) -> None:
    with engine_of(client).begin() as conn:
        ids = [add_comment(conn=conn, paper_id=PAPER, user_id=1, body=f"c{i}", parent_id=None) for i in range(21)]
    for cid in ids[:20]:
        assert client.post(f"/api/v1/comments/{cid}/report", json={"reason": "spam"}, headers=bob).status_code == 200
    r = client.post(f"/api/v1/comments/{ids[20]}/report", json={"reason": "spam"}, headers=bob)
    assert r.status_code == 429 and "20 reports a day" in r.json()["error"]
    assert "Retry-After" in r.headers


def test_num_comments_and_card_counts(client: TestClient, ada: dict[str, str], mod: dict[str, str]) -> None:
    with engine_of(client).begin() as conn:
        add_submission(conn=conn, paper_id=PAPER, user_id=1)
    keep = post(client, ada, "one").json()["id"]
    post(client, ada, "two", parent=keep)
    gone = post(client, ada, "three").json()["id"]
    client.post(f"/api/v1/comments/{gone}/hide", headers=mod)
    assert client.get(f"/api/papers/{PAPER}").json()["numComments"] == 2
    daily = client.get("/api/daily_papers").json()
    entry = next(e for e in daily if e["paper"]["id"] == PAPER)
    assert entry["numComments"] == 2 and entry["paper"]["numComments"] == 2
    home = client.get("/").text
    assert f'href="/papers/{PAPER}#discussion"' in home and "2 comments" in home


def test_disabled_members_tokens_stop_working(client: TestClient, ada: dict[str, str]) -> None:
    from paperfeed.community.users import set_disabled

    with engine_of(client).begin() as conn:
        set_disabled(conn=conn, username="ada", disabled=True)
    r = post(client, ada, "from a disabled account")
    assert r.status_code == 401 and "disabled account" in r.json()["error"]
    assert listing(client)["count"] == 0
    with engine_of(client).begin() as conn:
        set_disabled(conn=conn, username="ada", disabled=False)
    assert post(client, ada, "back again").status_code == 201


def test_discussion_atom_feed(client: TestClient, ada: dict[str, str], mod: dict[str, str]) -> None:
    first = post(client, ada, "Visible <b>bold</b> **strong**").json()["id"]
    hidden = post(client, ada, "hidden one").json()["id"]
    client.post(f"/api/v1/comments/{hidden}/hide", headers=mod)
    page = client.get(f"/papers/{PAPER}").text
    assert f'href="/papers/{PAPER}/comments.atom"' in page
    r = client.get(f"/papers/{PAPER}/comments.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = etree.fromstring(r.content)
    entries = root.findall("a:entry", ns)
    assert [e.findtext("a:id", namespaces=ns) for e in entries] == [f"http://testserver/papers/{PAPER}#comment-{first}"]
    content = entries[0].findtext("a:content", namespaces=ns)
    assert content == "<p>Visible &lt;b&gt;bold&lt;/b&gt; <strong>strong</strong></p>\n"
    assert entries[0].findtext("a:author/a:name", namespaces=ns) == "ada"


def test_routes_are_documented_in_openapi(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    post_op = paths["/api/v1/papers/{paper_id}/comments"]["post"]
    assert {"201", "401", "403", "404", "422", "429"} <= set(post_op["responses"])
    assert "CommentOut" in post_op["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    for path, method in [
        ("/api/v1/comments/{comment_id}", "patch"),
        ("/api/v1/comments/{comment_id}", "delete"),
        ("/api/v1/comments/{comment_id}/hide", "post"),
        ("/api/v1/comments/{comment_id}/restore", "post"),
    ]:
        assert {"200", "401", "403", "404"} <= set(paths[path][method]["responses"]), (path, method)

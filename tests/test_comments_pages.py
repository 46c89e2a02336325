"""Discussion on the paper page through forms: CSRF, comment, reply, edit, delete, report, moderation queue."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from tests.community_helpers import csrf_of, member, sign_in
from tests.factories import make_paper, site_client

PAPER = "2401.00001"
PAGE = f"/papers/{PAPER}"


@pytest.fixture
def app_client(settings: Settings) -> Iterator[TestClient]:
    with site_client(settings, [make_paper(id=PAPER, title="Graph networks for molecules")]) as c:
        for name, role in (("ada", "member"), ("bob", "member"), ("moe", "moderator")):
            member(c.app.state.engine, name, role)  # type: ignore[attr-defined]
        yield c


def comment_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<article class="comment[^"]*" id="comment-(\d+)"', html)]


def say(client: TestClient, token: str, body: str, parent: int | None = None) -> int:
    data = {"body": body, "csrf_token": token} | ({"parent": str(parent)} if parent else {})
    r = client.post(f"{PAGE}/comments", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith(PAGE + "#comment-")
    return int(r.headers["location"].rsplit("-", 1)[1])


def said_by_ada_then_bob_signs_in(client: TestClient, body: str) -> tuple[int, str]:
    """Ada comments ``body`` and signs out, then bob signs in: the comment's id and bob's CSRF token."""
    token = sign_in(client, "ada")
    cid = say(client, token, body)
    client.post("/logout", data={"csrf_token": token})
    return cid, sign_in(client, "bob")


def test_forms_need_the_csrf_token(app_client: TestClient) -> None:
    sign_in(app_client, "ada")
    r = app_client.post(f"{PAGE}/comments", data={"body": "forged"}, follow_redirects=False)
    assert r.status_code == 400
    assert "forged" not in app_client.get(PAGE).text


def test_visitors_are_invited_to_sign_in(app_client: TestClient) -> None:
    page = app_client.get(PAGE).text
    assert "Sign in</a> to join the discussion" in page and 'id="comment-body"' not in page
    r = app_client.post(f"{PAGE}/comments", data={"body": "x", "csrf_token": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_comment_reply_edit_delete_on_the_page(app_client: TestClient) -> None:
    token = sign_in(app_client, "ada")
    top = say(app_client, token, "A *first* thought with [a link](https://example.org).")
    page = app_client.get(PAGE).text
    assert "A <em>first</em> thought" in page
    assert '<a href="https://example.org" rel="nofollow ugc">a link</a>' in page
    assert "(1 comment)" in page

    reply = say(app_client, token, "And a reply.", parent=top)
    page = app_client.get(PAGE).text
    assert comment_ids(page) == [top, reply]
    assert re.search(rf'<ol class="replies"><li>\s*<article class="comment" id="comment-{reply}"', page)

    r = app_client.post(
        f"/comments/{top}/edit", data={"body": "A revised thought.", "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    page = app_client.get(PAGE).text
    assert "A revised thought." in page and "A <em>first</em>" not in page
    assert '<span class="edited"' in page

    app_client.post(f"/comments/{reply}/delete", data={"csrf_token": token})
    page = app_client.get(PAGE).text
    assert comment_ids(page) == [top] and "And a reply." not in page


def test_someone_elses_comment_cannot_be_edited(app_client: TestClient) -> None:
    cid, token = said_by_ada_then_bob_signs_in(app_client, "Mine.")
    r = app_client.post(f"/comments/{cid}/edit", data={"body": "Bob was here", "csrf_token": token})
    assert r.status_code == 403 and "only the author" in r.text.lower()
    assert "Bob was here" not in app_client.get(PAGE).text


def test_refused_comment_keeps_the_text(app_client: TestClient) -> None:
    token = sign_in(app_client, "ada")
    for i in range(5):
        say(app_client, token, f"comment {i}")
    r = app_client.post(f"{PAGE}/comments", data={"body": "My carefully written sixth comment", "csrf_token": token})
    assert r.status_code == 429
    assert "Your comment was not posted" in r.text and "5 comments a minute" in r.text
    assert ">My carefully written sixth comment</textarea>" in r.text


def test_report_then_moderator_hides_from_the_queue(app_client: TestClient) -> None:
    cid, token = said_by_ada_then_bob_signs_in(app_client, "Buy cheap pills")
    r = app_client.post(f"/comments/{cid}/report", data={"reason": "spam", "csrf_token": token})
    assert "the moderators will look at that comment" in r.text
    assert app_client.get("/moderation").status_code == 403
    app_client.post("/logout", data={"csrf_token": token})
    assert app_client.get("/moderation").status_code == 403  # visitors too

    token = sign_in(app_client, "moe")
    queue = app_client.get("/moderation").text
    assert "1 reported comment waiting" in queue and "Buy cheap pills" in queue
    assert "<strong>bob</strong>: spam" in queue
    r = app_client.post(f"/comments/{cid}/hide", data={"next": "/moderation", "csrf_token": csrf_of(queue)})
    assert "No open reports" in r.text
    assert "hidden by a moderator" in app_client.get(PAGE).text  # the moderator still sees the text too
    app_client.post("/logout", data={"csrf_token": token})

    page = app_client.get(PAGE).text
    assert "This comment was hidden by a moderator." in page and "Buy cheap pills" not in page
    assert "(0 comments)" in page

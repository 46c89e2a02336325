"""Comments are rendered once, when written, and their sanitised HTML is stored (issue 21, items 7 and 8):
views read ``comments.body_html``; migration 0013 fills it for comments written before; protocol-relative
links are dropped; hidden comments take no replies; bidi controls and zero-width characters are refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from paperfeed.community.comments import render_comment
from paperfeed.config import Settings
from paperfeed.store.db import alembic_config, make_engine, upgrade
from tests.community_helpers import member
from tests.factories import make_paper, site_client

PAPER = "2401.00001"
URL = f"/api/v1/papers/{PAPER}/comments"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with site_client(settings, [make_paper(id=PAPER, title="Graph networks for molecules")]) as c:
        yield c


def _engine(client: TestClient) -> Engine:
    return client.app.state.engine  # type: ignore[attr-defined,no-any-return]


def _post(client: TestClient, headers: dict[str, str], body: str, parent: int | None = None) -> Any:
    return client.post(URL, json={"body": body, "parent": parent}, headers=headers)


def test_a_comment_is_rendered_once_and_its_stored_html_is_what_views_show(client: TestClient) -> None:
    _, ada = member(_engine(client), "ada")
    r = _post(client, ada, "Nice **results**, see [code](https://example.org/x).")
    assert r.status_code == 201
    cid = r.json()["id"]
    with _engine(client).connect() as conn:
        stored = conn.execute(text("SELECT body_html FROM comments WHERE id = :i"), {"i": cid}).scalar_one()
    assert stored == render_comment("Nice **results**, see [code](https://example.org/x).")
    assert '<a href="https://example.org/x" rel="nofollow ugc">code</a>' in stored
    # Views read the stored HTML and never render again: a marker written into the column is what they show.
    with _engine(client).begin() as conn:
        conn.execute(text("UPDATE comments SET body_html = '<p>stored once</p>' WHERE id = :i"), {"i": cid})
    assert "stored once" in client.get(f"/papers/{PAPER}").text
    assert client.get(URL).json()["data"][0]["html"] == "<p>stored once</p>"
    # An edit renders the new text once more and stores it.
    edited = client.patch(f"/api/v1/comments/{cid}", json={"body": "Now *edited*."}, headers=ada)
    assert edited.status_code == 200 and edited.json()["html"] == "<p>Now <em>edited</em>.</p>\n"
    assert "<em>edited</em>" in client.get(f"/papers/{PAPER}").text


def test_migration_0013_fills_the_html_of_existing_comments(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0012_rate_events")
    when = datetime(2024, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (email, username, display_name, password_hash, created_at, role, disabled) "
                "VALUES ('a@example.org', 'ada', 'ada', 'x', :t, 'member', false)"
            ),
            {"t": when},
        )
        conn.execute(
            text(
                "INSERT INTO papers (id, title, abstract, authors, authors_text, categories, source, first_seen, "
                "changed_at, withdrawn, title_key) "
                "VALUES (:p, 'T', 'An abstract.', '[]', '', '[]', 'test', :t, :t, false, 't')"
            ),
            {"p": PAPER, "t": when},
        )
        for body in ("**old** comment", "[x](//evil.example) and <script>alert(1)</script>"):
            conn.execute(
                text("INSERT INTO comments (paper_id, user_id, body, created_at) VALUES (:p, 1, :b, :t)"),
                {"p": PAPER, "b": body, "t": when},
            )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT body_html FROM comments ORDER BY id")).scalars().all()
    engine.dispose()
    assert rows[0] == "<p><strong>old</strong> comment</p>\n"
    assert "evil.example" not in rows[1] and "<script>" not in rows[1] and "&lt;script&gt;" in rows[1]


def test_protocol_relative_and_relative_links_do_not_survive() -> None:
    html = render_comment("[x](//evil.example) [y](/account) [z](https://ok.example/)")
    assert "evil.example" not in html and 'href="/account"' not in html
    assert '<a href="https://ok.example/" rel="nofollow ugc">z</a>' in html and ">x</a>" in html


def test_a_hidden_comment_takes_no_replies(client: TestClient) -> None:
    _, ada = member(_engine(client), "ada")
    _, bob = member(_engine(client), "bob")
    _, mod = member(_engine(client), "moe", role="moderator")
    cid = _post(client, ada, "Spam spam spam.").json()["id"]
    assert client.post(f"/api/v1/comments/{cid}/hide", headers=mod).status_code == 200
    r = _post(client, bob, "A reply under hidden spam.", parent=cid)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "parent"
    assert "is hidden and takes no replies" in r.json()["error"]
    assert "A reply under hidden spam" not in client.get(URL, headers=mod).text


@pytest.mark.parametrize(
    "body", ["price \u202egnp.exe", "zero\u200bwidth", "isolate \u2066x\u2069", "joiner\u2060here", "bom\ufeff"]
)
def test_bidi_controls_and_zero_width_characters_are_refused_in_comments(client: TestClient, body: str) -> None:
    _, ada = member(_engine(client), "ada")
    r = _post(client, ada, body)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body"
    assert "invisible or direction-changing characters" in r.json()["error"]
    assert client.get(URL).json()["count"] == 0

"""Passwords follow NIST SP 800-63B: at least 8 characters, no NUL, not common, not built from the
username, email address or site name; the form says why. A password change can revoke API tokens."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.web.app import create_app

REFUSED = {
    "password": "too easy to guess (this is a top-10 common password)",
    "12345678": "too easy to guess (this is a top-10 common password)",
    "aaaaaaaa": "too easy to guess (repeats like",
    "        ": "too easy to guess (repeats like",
    "adalovelace": "built from your username, email address or the site's name",
    "Paperfeed2026": "built from your username, email address or the site's name",
    "correct\x00horse": "cannot contain NUL characters",
    "short": "use at least 8 characters",
}


@pytest.fixture
def client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings))


def _csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, path
    return found.group(1)


def _signup(client: TestClient, password: str, username: str = "adalovelace") -> object:
    form = {"email": "ada@example.org", "username": username, "password": password}
    return client.post("/signup", data={**form, "csrf_token": _csrf(client, "/signup")}, follow_redirects=False)


@pytest.mark.parametrize("password", list(REFUSED))
def test_signup_refuses_weak_passwords_and_says_why(client: TestClient, password: str) -> None:
    r = _signup(client, password)
    assert r.status_code == 400  # type: ignore[attr-defined]
    error = re.search(r'<p class="field-error" id="err-password">([^<]+)</p>', r.text)  # type: ignore[attr-defined]
    assert error and REFUSED[password] in html.unescape(error.group(1))
    assert 'value="adalovelace"' in r.text  # type: ignore[attr-defined]  # the rest of the form is kept
    assert client.get("/account", follow_redirects=False).status_code == 303  # no account, not signed in


def test_signup_accepts_a_few_uncommon_words(client: TestClient) -> None:
    assert _signup(client, "correct horse").status_code == 303  # type: ignore[attr-defined]
    assert "@adalovelace" in client.get("/account").text


def _tokens(client: TestClient, n: int) -> list[str]:
    made = []
    for i in range(n):
        page = client.post("/account/tokens", data={"name": f"script {i}", "csrf_token": _csrf(client, "/account")})
        found = re.search(r'id="new-token">([^<]+)<', page.text)
        assert found
        made.append(found.group(1))
    return made


def _works(client: TestClient, token: str) -> bool:
    r = TestClient(client.app).get("/api/v1/library", headers={"Authorization": f"Bearer {token}"})
    return r.status_code == 200


def test_password_change_refuses_weak_passwords_and_can_revoke_api_tokens(client: TestClient) -> None:
    _signup(client, "correct horse")
    first, second = _tokens(client, 2)
    page = client.get("/account")
    assert "Also revoke my 2 personal API tokens" in page.text
    weak = client.post(
        "/account/password",
        data={"current": "correct horse", "new": "adalovelace1", "csrf_token": _csrf(client, "/account")},
    )
    assert weak.status_code == 400 and "built from your username" in html.unescape(weak.text)
    kept = client.post(
        "/account/password",
        data={"current": "correct horse", "new": "battery staple", "csrf_token": _csrf(client, "/account")},
    )
    assert kept.status_code == 200 and "Your password was changed" in kept.text and "were revoked" not in kept.text
    assert _works(client, first) and _works(client, second)  # not ticked: tokens keep working
    revoked = client.post(
        "/account/password",
        data={
            "current": "battery staple",
            "new": "tangerine orbit",
            "revoke_tokens": "1",
            "csrf_token": _csrf(client, "/account"),
        },
    )
    assert "Your 2 API tokens were revoked" in revoked.text
    assert not _works(client, first) and not _works(client, second)
    assert "No tokens yet." in client.get("/account").text

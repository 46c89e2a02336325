"""Mail edge cases (issue 21, item 6): international addresses go out with SMTPUTF8 when the server offers it
and are refused, by name, when it does not; a mail failure never fails a request or a background task; a
confirmation link only confirms a pending subscription, and only by the POST of its page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.digest.render import make_token
from paperfeed.store.subscriptions import get_subscriber
from paperfeed.store.users import get_user_by_email
from paperfeed.web.app import create_app
from tests.smtp_server import Handler, SmtpServer, free_port

JOSE = "josé@example.org"
LINK = re.compile(r"http://testserver(/subscriptions/confirm/[A-Za-z0-9_.\-]+)")


def _server(offers_smtputf8: bool) -> Iterator[SmtpServer]:
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10, enable_SMTPUTF8=offers_smtputf8)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


@pytest.fixture
def smtputf8() -> Iterator[SmtpServer]:
    """A real aiosmtpd server that offers SMTPUTF8."""
    yield from _server(True)


@pytest.fixture
def ascii_only() -> Iterator[SmtpServer]:
    """A real aiosmtpd server that does not offer SMTPUTF8."""
    yield from _server(False)


def _site(settings: Settings, server: SmtpServer) -> TestClient:
    mail = {"smtp_host": server.host, "smtp_port": server.port, "mail_rate_limit": 0, "mail_from": "pf@paperfeed.test"}
    return TestClient(create_app(settings.model_copy(update=mail)))


def _csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, f"{path} has no CSRF token"
    return found.group(1)


def _sign_up(client: TestClient, email: str, username: str) -> object:
    data = {
        "email": email,
        "username": username,
        "password": "plum orchard ladder",
        "csrf_token": _csrf(client, "/signup"),
    }
    return client.post("/signup", data=data, follow_redirects=False)


def test_an_international_address_is_mailed_with_smtputf8(settings: Settings, smtputf8: SmtpServer) -> None:
    with _site(settings, smtputf8) as client:
        r = _sign_up(client, JOSE, "jose")
        assert r.status_code == 303  # type: ignore[attr-defined]
        [verify] = smtputf8.handler.messages
        assert verify.rcpt == [JOSE] and JOSE in verify.to
        assert "verify your email address" in str(verify.message["Subject"])
        # The API subscribe's confirmation goes out from a background task: it arrives, nothing crashes.
        sub = client.post("/api/v1/subscriptions", json={"email": "zoë@example.org", "topics": ["graphs"]})
        assert sub.status_code == 202
        confirm = smtputf8.handler.to("zoë@example.org")
        assert len(confirm) == 1 and LINK.search(confirm[0].part("plain"))
        # A Unicode domain goes out in its ASCII form, with no need for SMTPUTF8.
        assert client.post("/api/v1/subscriptions", json={"email": "ada@bücher.example"}).status_code == 202
        assert smtputf8.handler.to("ada@xn--bcher-kva.example")


def test_without_smtputf8_such_an_address_is_refused_where_it_is_entered(
    settings: Settings, ascii_only: SmtpServer
) -> None:
    smtp = ascii_only
    with _site(settings, smtp) as client:
        r = _sign_up(client, JOSE, "jose")
        assert r.status_code == 400  # type: ignore[attr-defined]
        assert "does not offer SMTPUTF8" in r.text  # type: ignore[attr-defined]
        assert 'value="jose"' in r.text  # type: ignore[attr-defined]  # the form keeps what was typed
        with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
            assert get_user_by_email(conn=conn, email=JOSE) is None  # no account half-made
        api = client.post("/api/v1/subscriptions", json={"email": JOSE})
        assert api.status_code == 422 and api.json()["detail"][0]["field"] == "email"
        assert "SMTPUTF8" in api.json()["error"]
        form = client.post(
            "/subscribe", data={"email": JOSE, "trending": "on", "csrf_token": _csrf(client, "/subscribe")}
        )
        assert form.status_code == 400 and "does not offer SMTPUTF8" in form.text
        with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
            assert get_subscriber(conn=conn, email=JOSE) is None
        assert smtp.handler.messages == []
        assert _sign_up(client, "jose@example.org", "jose").status_code == 303  # type: ignore[attr-defined]


def test_a_mail_that_cannot_be_sent_never_fails_the_sign_up(settings: Settings) -> None:
    """The mail server cannot be reached: the account is made, signed in, and the account page says so."""
    down = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port(), "mail_from": "pf@x.test"})
    with TestClient(create_app(down)) as client:
        r = _sign_up(client, JOSE, "jose")
        assert r.status_code == 303  # type: ignore[attr-defined]
        assert "@jose" in client.get("/account").text
        assert client.post("/api/v1/subscriptions", json={"email": "zoë@example.org"}).status_code == 202


def test_an_old_confirmation_link_never_reactivates_after_unsubscribing(
    settings: Settings, smtputf8: SmtpServer
) -> None:
    with _site(settings, smtputf8) as client:
        engine = client.app.state.engine  # type: ignore[attr-defined]
        client.post("/api/v1/subscriptions", json={"email": "reader@example.org"})
        path = LINK.search(smtputf8.handler.to("reader@example.org")[0].part("plain"))
        assert path
        link = path.group(1)
        page = client.get(link)  # what a mail scanner does: nothing is confirmed
        assert page.status_code == 200 and "Confirm my subscription" in page.text
        assert f'action="{link}" method="post"' in page.text
        with engine.connect() as conn:
            sub = get_subscriber(conn=conn, email="reader@example.org")
        assert sub is not None and sub.status == "pending"
        done = client.post(link)
        assert done.status_code == 200 and "You are subscribed" in done.text
        token = make_token(secret_key=settings.secret_key, purpose="unsubscribe", subscriber_id=sub.id, email=sub.email)
        assert "You are unsubscribed" in client.post(f"/unsubscribe/{token}").text  # one click
        old_get, old_post = client.get(link), client.post(link)
        for answer in (old_get, old_post):
            assert answer.status_code == 400 and "stopped after the link was sent" in answer.text
        with engine.connect() as conn:
            after = get_subscriber(conn=conn, email="reader@example.org")
        assert after is not None and after.status == "unsubscribed"

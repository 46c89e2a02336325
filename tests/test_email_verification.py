"""Accounts and subscriptions: an account's email address is verified by a mailed link before anything tied
to the address (its digest subscription: manage page, topics, send hour, resume) is shown or changed.

Everything goes through HTTP, with mail delivered to a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.store.subscriptions import get_subscriber
from paperfeed.web.app import create_app
from tests.smtp_server import SmtpServer, add_active, sending_through, smtp  # noqa: F401

VERIFY = re.compile(r"http://testserver(/account/verify/[A-Za-z0-9_.\-]+)")


@pytest.fixture
def mail_settings(settings: Settings, smtp: SmtpServer) -> Settings:  # noqa: F811
    return sending_through(settings, smtp.port, host=smtp.host, mail_from="pf@paperfeed.test")  # type: ignore[no-any-return]


@pytest.fixture
def site(mail_settings: Settings) -> TestClient:
    """The site, sending mail through the test SMTP server, after a first visit to its home page."""
    client = TestClient(create_app(mail_settings))
    client.get("/")
    return client


def _csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, path
    return found.group(1)


def _sign_up(client: TestClient, email: str, username: str) -> None:
    form = {"email": email, "username": username, "password": "correct horse", "csrf_token": _csrf(client, "/signup")}
    r = client.post("/signup", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text


def test_signing_up_with_someone_elses_address_gives_no_access_to_their_subscription(
    site: TestClient,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    victim = site
    engine = victim.app.state.engine  # type: ignore[attr-defined]
    add_active(engine, "victim@example.org", topics=["private research topic"], send_hour=6)
    attacker = TestClient(victim.app)
    _sign_up(attacker, "Victim@Example.org", "mallory")
    # the verification link goes to the address, which the attacker does not read
    assert [m.to for m in smtp.handler.messages] == ["victim@example.org"]

    account = attacker.get("/account")
    assert "Your email address is not verified yet" in account.text
    assert "A verification link was last sent on" in account.text
    for path in ("/subscriptions/manage", "/digest/preview"):
        page = attacker.get(path, follow_redirects=False)
        assert page.status_code == 403, path
        assert "Verify your email address first" in page.text and "private research topic" not in page.text
    # subscribing the address while signed in does not tie the subscription to the account either
    form = {"email": "victim@example.org", "topics": "attacker topic", "frequency": "daily", "timezone": "UTC"}
    attacker.post("/subscribe", data={**form, "send_hour": "7", "csrf_token": _csrf(attacker, "/subscribe")})
    with engine.connect() as conn:
        sub = get_subscriber(conn=conn, email="victim@example.org")
    assert sub is not None and sub.user_id is None
    assert sub.topics == ["private research topic"] and sub.send_hour == 6 and sub.status == "active"


def test_following_the_mailed_link_verifies_the_address_and_opens_the_subscription(
    site: TestClient,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    client = site
    add_active(client.app.state.engine, "ada@example.org", topics=["graph neural networks"])  # type: ignore[attr-defined]
    _sign_up(client, "ada@example.org", "ada")
    (mail,) = smtp.handler.to("ada@example.org")
    assert "verify your email address" in str(mail.message["Subject"]).lower()
    link = VERIFY.search(mail.part("plain"))
    assert link and link.group(0) in mail.part("html")
    done = client.get(link.group(1))
    assert done.status_code == 200 and "Email address verified" in done.text and "ada@example.org" in done.text
    account = client.get("/account")
    assert "Email address verified on" in account.text and "not verified yet" not in account.text
    manage = client.get("/subscriptions/manage")
    assert manage.status_code == 200 and "graph neural networks" in manage.text
    again = client.get(link.group(1))  # following it twice is harmless
    assert again.status_code == 200 and "Email address verified" in again.text


def test_a_new_link_can_be_requested_and_a_bad_link_says_how_to_get_one(
    mail_settings: Settings,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    client = TestClient(create_app(mail_settings))
    _sign_up(client, "ada@example.org", "ada")
    r = client.post("/account/verify/resend", data={"csrf_token": _csrf(client, "/account")})
    assert r.status_code == 200 and "A new verification link was handed to the mail server" in r.text
    assert len(smtp.handler.to("ada@example.org")) == 2
    bad = client.get("/account/verify/not-a-real-token")
    assert bad.status_code == 400
    assert "This link does not work" in bad.text and "Request a new link" in bad.text
    other = TestClient(client.app)  # a link for another account's address does not verify this one
    _sign_up(other, "bob@example.org", "bob")
    bob_link = VERIFY.search(smtp.handler.to("bob@example.org")[0].part("plain"))
    assert bob_link
    client.get(bob_link.group(1))
    assert "Your email address is not verified yet" in client.get("/account").text


def test_without_smtp_the_account_page_says_no_link_could_be_sent(settings: Settings) -> None:
    client = TestClient(create_app(settings))
    _sign_up(client, "ada@example.org", "ada")
    page = client.get("/account")
    assert "Your email address is not verified yet" in page.text
    assert "This instance cannot send mail yet, so no verification link was sent" in page.text
    assert "PAPERFEED_SMTP_HOST" in page.text
    assert "was last sent" not in page.text and "Send a new verification link" not in page.text

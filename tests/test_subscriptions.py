"""Subscribing: double opt-in by mail, confirm/manage/unsubscribe links, rate limits, hostile input."""

from __future__ import annotations

import re
import time
from unittest.mock import patch

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer

from paperfeed.config import Settings
from paperfeed.digest import subscribe as service
from paperfeed.digest.render import TokenError, make_token, manage_url, read_token, unsubscribe_url
from paperfeed.store.subscriptions import Subscriber, get_subscriber
from paperfeed.web.app import create_app
from tests.smtp_server import SmtpServer, smtp  # noqa: F401

LINK = re.compile(r"http://testserver(/subscriptions/confirm/[A-Za-z0-9_.\-]+)")


@pytest.fixture
def mail_settings(settings: Settings, smtp: SmtpServer) -> Settings:  # noqa: F811
    return settings.model_copy(
        update={
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "mail_rate_limit": 0,
            "mail_from": "Paperfeed <digest@paperfeed.test>",
        }
    )


@pytest.fixture
def client(mail_settings: Settings) -> TestClient:
    return TestClient(create_app(mail_settings))


def _csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert m
    return m.group(1)


def test_api_subscribe_sends_one_confirmation_and_its_link_confirms(
    client: TestClient,
    smtp: SmtpServer,  # noqa: F811
    mail_settings: Settings,
) -> None:
    r = client.post(
        "/api/v1/subscriptions",
        json={
            "email": "Reader@Example.org",
            "trending": True,
            "topics": ["graph neural networks"],
            "frequency": "daily",
        },
    )
    assert r.status_code == 202
    assert r.json()["status"] == "pending_confirmation"
    [mail] = smtp.handler.messages
    assert mail.rcpt == ["reader@example.org"]
    assert "confirm" in str(mail.message["Subject"]).lower()
    path = LINK.search(mail.part("plain"))
    assert path and path.group(0) in mail.part("html")
    page = client.post(path.group(1))  # the mailed link opens a page whose button confirms (POST)
    assert page.status_code == 200 and "You are subscribed" in page.text
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        sub = get_subscriber(conn=conn, email="reader@example.org")
    assert sub is not None and sub.status == "active"
    assert sub.topics == ["graph neural networks"] and sub.trending and sub.frequency == "daily"


def test_resubscribing_reveals_nothing_and_never_changes_an_active_subscription(
    client: TestClient, smtp: SmtpServer
) -> None:  # noqa: F811
    body = {"email": "known@example.org", "topics": ["transformers"], "frequency": "daily"}
    first = client.post("/api/v1/subscriptions", json=body)
    client.post(LINK.search(smtp.handler.messages[0].part("plain")).group(1))  # type: ignore[union-attr]
    again = client.post("/api/v1/subscriptions", json={**body, "topics": ["hijacked"], "frequency": "weekly"})
    unknown = client.post("/api/v1/subscriptions", json={**body, "email": "new@example.org"})
    assert first.status_code == again.status_code == unknown.status_code == 202
    assert first.json() == again.json() == unknown.json()
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        sub = get_subscriber(conn=conn, email="known@example.org")
    assert sub is not None and sub.topics == ["transformers"] and sub.frequency == "daily"
    already = smtp.handler.to("known@example.org")[-1]
    assert "already subscribed" in already.part("plain") and "/subscriptions/manage/" in already.part("plain")


def test_an_address_cannot_be_mail_bombed_and_a_noisy_client_is_slowed(client: TestClient, smtp: SmtpServer) -> None:  # noqa: F811
    for _ in range(8):
        assert client.post("/api/v1/subscriptions", json={"email": "victim@example.org"}).status_code == 202
    assert len(smtp.handler.to("victim@example.org")) == service.PER_ADDRESS
    codes = [
        client.post("/api/v1/subscriptions", json={"email": f"x{i}@example.org"}).status_code
        for i in range(service.PER_CLIENT)
    ]
    assert codes[-1] == 429 and 202 in codes


@pytest.mark.parametrize(
    "email",
    [
        "victim@example.org\r\nBcc: everyone@example.org",
        "victim@example.org\nBcc: everyone@example.org",
        "Name <victim@example.org>",
        "not-an-address",
        "a" * 300 + "@example.org",
        "x@" + "b" * 250 + ".org",
        "",
    ],
)
def test_hostile_or_invalid_addresses_are_refused_naming_the_field(
    client: TestClient,
    smtp: SmtpServer,  # noqa: F811
    email: str,
) -> None:
    r = client.post("/api/v1/subscriptions", json={"email": email})
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "email"
    assert smtp.handler.messages == []


@pytest.mark.parametrize(
    "body,field",
    [
        ({"frequency": "hourly"}, "frequency"),
        ({"topics": ["ok", "bad\r\nBcc: x@y.z"]}, "topics"),
        ({"topics": ["x" * 500]}, "topics"),
        ({"topics": ["year:abc"]}, "topics"),
        ({"topics": ["graph", "-"]}, "topics"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"send_hour": 24}, "send_hour"),
        ({"admin": True}, "admin"),
    ],
)
def test_bad_preferences_are_422_with_the_field(client: TestClient, body: dict[str, object], field: str) -> None:
    r = client.post("/api/v1/subscriptions", json={"email": "ok@example.org", **body})
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"].startswith(field)


def test_subscribe_form_needs_csrf_and_then_mails_a_confirmation(client: TestClient, smtp: SmtpServer) -> None:  # noqa: F811
    form = {
        "email": "form@example.org",
        "trending": "on",
        "frequency": "weekdays",
        "timezone": "Europe/Paris",
        "send_hour": "8",
        "topics": "diffusion\nauthor:hinton",
    }
    assert client.post("/subscribe", data=form).status_code == 400
    assert smtp.handler.messages == []
    r = client.post("/subscribe", data={**form, "csrf_token": _csrf(client, "/subscribe")})
    assert r.status_code == 200 and "Check your inbox" in r.text
    [mail] = smtp.handler.messages
    client.post(LINK.search(mail.part("plain")).group(1))  # type: ignore[union-attr]
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        sub = get_subscriber(conn=conn, email="form@example.org")
    assert sub is not None and sub.status == "active"
    assert (sub.frequency, sub.timezone, sub.send_hour, sub.topics) == (
        "weekdays",
        "Europe/Paris",
        8,
        ["diffusion", "author:hinton"],
    )


def _active(client: TestClient, smtp: SmtpServer, email: str) -> Subscriber:  # noqa: F811
    """Subscribe ``email`` through the API and follow the mailed confirmation link; the stored subscriber."""
    client.post("/api/v1/subscriptions", json={"email": email})
    client.post(LINK.search(smtp.handler.to(email)[-1].part("plain")).group(1))  # type: ignore[union-attr]
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        sub = get_subscriber(conn=conn, email=email)
    assert sub is not None
    return sub


def test_manage_link_changes_preferences(client: TestClient, smtp: SmtpServer, mail_settings: Settings) -> None:  # noqa: F811
    sub = _active(client, smtp, "m@example.org")
    path = manage_url(mail_settings, sub).removeprefix("http://testserver")
    token = _csrf(client, path)
    r = client.post(
        path,
        data={
            "csrf_token": token,
            "frequency": "weekly",
            "timezone": "Asia/Tokyo",
            "send_hour": "21",
            "topics": "quantum",
        },
    )
    assert r.status_code == 200 and "saved" in r.text
    bad = client.post(
        path, data={"csrf_token": token, "frequency": "weekly", "timezone": "Nowhere/Land", "send_hour": "21"}
    )
    assert bad.status_code == 400 and "time zone" in bad.text
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        sub = get_subscriber(conn=conn, email="m@example.org")
    assert sub is not None and (sub.frequency, sub.timezone, sub.send_hour, sub.topics, sub.trending) == (
        "weekly",
        "Asia/Tokyo",
        21,
        ["quantum"],
        False,
    )


def test_unsubscribe_get_only_asks_and_post_unsubscribes_without_signing_in(
    client: TestClient, smtp: SmtpServer, mail_settings: Settings
) -> None:  # noqa: F811
    sub = _active(client, smtp, "u@example.org")
    path = unsubscribe_url(mail_settings, sub).removeprefix("http://testserver")
    page = client.get(path)
    assert page.status_code == 200 and 'method="post"' in page.text
    fresh = TestClient(client.app)  # a mail client: no cookies, no CSRF token
    r = fresh.post(
        path, content=b"List-Unsubscribe=One-Click", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 200 and "unsubscribed" in r.text
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        assert get_subscriber(conn=conn, email="u@example.org").status == "unsubscribed"  # type: ignore[union-attr]
    assert fresh.post(path[:-3] + "xyz").status_code == 400


def test_tokens_are_purpose_bound_tamper_proof_and_expire(mail_settings: Settings) -> None:
    key = mail_settings.secret_key
    token = make_token(secret_key=key, purpose="manage", subscriber_id=7, email="a@b.org")
    assert read_token(secret_key=key, purpose="manage", token=token).subscriber_id == 7
    with pytest.raises(TokenError):
        read_token(secret_key=key, purpose="unsubscribe", token=token)
    with pytest.raises(TokenError):
        read_token(secret_key="another-secret", purpose="manage", token=token)
    old = URLSafeTimedSerializer(key, salt="paperfeed.subscription.confirm")
    stale = old.dumps({"s": 7, "e": "a@b.org"})
    with pytest.raises(TokenError) as info:
        read_token(secret_key=key, purpose="confirm", token=stale, max_age=-1)
    assert info.value.expired


def test_expired_or_tampered_confirmation_links_say_so(client: TestClient, mail_settings: Settings) -> None:
    client.get("/subscribe")  # opens the store
    engine = client.app.state.engine  # type: ignore[attr-defined]
    result = service.request_subscription(engine=engine, email="late@example.org", prefs={}, client="t")
    assert result.mail_to is not None
    three_days_ago = time.time() - 3 * 86400
    with patch("itsdangerous.timed.time.time", return_value=three_days_ago):
        token = make_token(
            secret_key=mail_settings.secret_key,
            purpose="confirm",
            subscriber_id=result.mail_to.id,
            email="late@example.org",
        )
    expired = client.get(f"/subscriptions/confirm/{token}")
    assert expired.status_code == 400 and "expired" in expired.text
    assert client.get(f"/subscriptions/confirm/{token[:-2]}xx").status_code == 400
    with engine.connect() as conn:
        assert get_subscriber(conn=conn, email="late@example.org").status == "pending"  # type: ignore[union-attr]


def test_preview_page_needs_a_signed_in_member(client: TestClient) -> None:
    r = client.get("/digest/preview", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_preview_page_shows_a_signed_in_member_their_next_digest(client: TestClient) -> None:
    from datetime import UTC, datetime, timedelta

    from paperfeed.store.email_verification import mark_email_verified
    from paperfeed.store.papers import upsert_papers
    from paperfeed.store.sessions import create_session
    from paperfeed.store.users import create_user
    from paperfeed.web.security import SESSION_COOKIE
    from tests.factories import make_paper
    from tests.smtp_server import upvote

    client.get("/subscribe")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    paper = make_paper(title="<b>Previewed</b> Paper", published=datetime.now(UTC) - timedelta(hours=1))
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[paper])
        user = create_user(conn=conn, email="member@example.org", username="member", password_hash="x")
        mark_email_verified(conn=conn, user_id=user.id, email=user.email, now=datetime.now(UTC))
        client.cookies.set(SESSION_COOKIE, create_session(conn=conn, user_id=user.id))
    upvote(engine, paper.id, 2)
    page = client.get("/digest/preview")
    assert page.status_code == 200
    assert "&lt;b&gt;Previewed&lt;/b&gt; Paper" in page.text and "Nothing is sent" in page.text
    assert "not subscribed yet" in page.text


def test_without_smtp_the_subscribe_page_says_mail_cannot_be_sent_and_stores_nothing(settings: Settings) -> None:
    client = TestClient(create_app(settings))  # no PAPERFEED_SMTP_HOST / PAPERFEED_MAIL_FROM
    page = client.get("/subscribe")
    assert page.status_code == 200
    assert "This instance cannot send mail yet" in page.text
    assert "PAPERFEED_SMTP_HOST" in page.text and "PAPERFEED_MAIL_FROM" in page.text
    assert "on its way" not in page.text and "We first send a confirmation link" not in page.text
    form = {"email": "hopeful@example.org", "trending": "on", "topics": "diffusion", "send_hour": "7"}
    r = client.post("/subscribe", data={**form, "csrf_token": _csrf(client, "/subscribe")})
    assert r.status_code == 503 and "This instance cannot send mail yet" in r.text
    assert "on its way" not in r.text and "Check your inbox" not in r.text
    assert 'value="hopeful@example.org"' in r.text  # what the user typed is still there
    api = client.post("/api/v1/subscriptions", json={"email": "hopeful@example.org"})
    assert api.status_code == 503 and "cannot send mail" in api.json()["error"]
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        assert get_subscriber(conn=conn, email="hopeful@example.org") is None


def test_manage_form_error_keeps_every_input_and_names_the_visible_field(
    client: TestClient,
    smtp: SmtpServer,  # noqa: F811
    mail_settings: Settings,
) -> None:
    sub = _active(client, smtp, "keep@example.org")
    assert sub.trending and not sub.for_you
    path = manage_url(mail_settings, sub).removeprefix("http://testserver")
    typed = {
        "topics": "\n\ncat:cs.LG\n\n  year:abc",
        "frequency": "weekly",
        "timezone": "Asia/Tokyo",
        "send_hour": "21",
    }
    bad = client.post(path, data={"csrf_token": _csrf(client, path), **typed, "for_you": "on"})
    assert bad.status_code == 400
    assert "Topics, line 5: not a valid search" in bad.text and "topics.4" not in bad.text.lower()
    assert "cat:cs.LG" in bad.text and "year:abc" in bad.text and 'value="Asia/Tokyo"' in bad.text
    assert re.search(r'name="for_you" value="on" checked', bad.text)  # ticked as sent
    assert not re.search(r'name="trending" value="on" checked', bad.text)  # unticked as sent
    hour = client.post(path, data={"csrf_token": _csrf(client, path), **typed, "topics": "", "send_hour": "25"})
    assert hour.status_code == 400 and "Hour: must be a whole hour from 0 to 23" in hour.text
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        after = get_subscriber(conn=conn, email="keep@example.org")
    assert after is not None and (after.trending, after.for_you, after.topics) == (True, False, [])


def test_with_mail_settings_every_page_offers_the_digest_and_the_subscribe_button_works(client: TestClient) -> None:
    """The footer's email digest and an enabled Subscribe button only where mail can be sent (issue 22)."""
    home = client.get("/").text
    assert '<a href="/subscribe">Get trending papers in your email inbox once a day</a>' in home
    page = client.get("/subscribe").text
    assert 'id="feeds-instead"' not in page and "cannot send mail" not in page
    assert re.search(r"<button type=\"submit\">Subscribe</button>", page)  # not disabled

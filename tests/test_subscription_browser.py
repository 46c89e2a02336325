"""The subscription form and the manage page in a real browser (Debian's chromium via Playwright): every
checkbox the user ticks or unticks is what gets stored, and a form with an error keeps what the user
typed and names the field the way the page labels it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digest.render import manage_url
from paperfeed.store.subscriptions import Subscriber, get_subscriber, unsubscribe
from paperfeed.web.app import create_app
from tests.servers import BROWSER_MARKS, browser, free_port, running  # noqa: F401 - browser: a fixture
from tests.smtp_server import SmtpServer, add_active, smtp  # noqa: F401

pytestmark = BROWSER_MARKS


@pytest.fixture
def site(settings: Settings, smtp: SmtpServer) -> Iterator[tuple[str, Settings, Engine]]:  # noqa: F811
    """A real uvicorn server with mail configured (aiosmtpd); yields its URL, settings and store."""
    port = free_port()
    live = settings.model_copy(
        update={
            "base_url": f"http://127.0.0.1:{port}",
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "mail_from": "digest@paperfeed.test",
            "mail_rate_limit": 0,
        }
    )
    app = create_app(live)
    with running(app, port, timeout=60) as url:
        yield url, live, app.state.engine


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    context.set_default_timeout(20_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _stored(engine: Engine, email: str) -> Subscriber:
    with engine.connect() as conn:
        sub = get_subscriber(conn=conn, email=email)
    assert sub is not None, f"nothing stored for {email}"
    return sub


def _set(page: Any, name: str, ticked: bool) -> None:
    box = page.locator(f'input[type=checkbox][name="{name}"]')
    box.check() if ticked else box.uncheck()


@pytest.mark.parametrize("trending", [False, True])
def test_subscribe_form_stores_the_trending_box_as_ticked(
    site: tuple[str, Settings, Engine], page: Any, trending: bool
) -> None:
    url, _settings, engine = site
    page.goto(f"{url}/subscribe")
    page.fill("#email", "reader@example.org")
    _set(page, "trending", trending)
    page.click("main form button[type=submit]")
    page.wait_for_selector("text=Check your inbox")
    assert _stored(engine, "reader@example.org").trending is trending


def test_manage_page_stores_each_box_ticked_and_unticked(site: tuple[str, Settings, Engine], page: Any) -> None:
    url, settings, engine = site
    add_active(engine, "member@example.org", trending=True, for_you=False)
    path = manage_url(settings, _stored(engine, "member@example.org")).removeprefix(settings.base_url)
    for trending, for_you in [(False, True), (True, False), (False, False), (True, True)]:
        page.goto(url + path)
        _set(page, "trending", trending)
        _set(page, "for_you", for_you)
        page.click("main form button[type=submit]")
        page.wait_for_selector("text=Your preferences are saved.")
        sub = _stored(engine, "member@example.org")
        assert (sub.trending, sub.for_you) == (trending, for_you)
        shown = page.locator("input[name=trending]").is_checked(), page.locator("input[name=for_you]").is_checked()
        assert shown == (trending, for_you)  # the page shows what is stored


def test_resume_box_reactivates_only_when_ticked(site: tuple[str, Settings, Engine], page: Any) -> None:
    url, settings, engine = site
    sub_id = add_active(engine, "away@example.org")
    with engine.begin() as conn:
        unsubscribe(conn=conn, subscriber_id=sub_id, now=datetime.now(UTC))
    path = manage_url(settings, _stored(engine, "away@example.org")).removeprefix(settings.base_url)
    page.goto(url + path)
    assert "This address is unsubscribed" in page.inner_text("main")
    _set(page, "resume", False)
    page.click("main form button[type=submit]")
    page.wait_for_selector("text=Your preferences are saved.")
    assert _stored(engine, "away@example.org").status == "unsubscribed"
    _set(page, "resume", True)
    page.click("main form button[type=submit]")
    page.wait_for_selector("text=Your preferences are saved.")
    assert _stored(engine, "away@example.org").status == "active"
    assert "status: active" in page.inner_text("main")


def test_a_form_error_keeps_the_input_and_names_the_line(site: tuple[str, Settings, Engine], page: Any) -> None:
    url, _settings, engine = site
    page.goto(f"{url}/subscribe")
    page.fill("#email", "careful@example.org")
    page.fill("#topics", "graph neural networks\nyear:abc")
    _set(page, "trending", False)
    page.select_option("#frequency", "weekly")
    page.select_option("#send_hour", "18")
    page.click("main form button[type=submit]")
    error = page.locator(".field-error").first.inner_text()
    assert error.startswith("Topics, line 2:") and "Topics.1" not in page.content()
    assert page.input_value("#email") == "careful@example.org"
    assert page.input_value("#topics") == "graph neural networks\nyear:abc"
    assert not page.locator("input[name=trending]").is_checked()
    assert (page.input_value("#frequency"), page.input_value("#send_hour")) == ("weekly", "18")
    with engine.connect() as conn:
        assert get_subscriber(conn=conn, email="careful@example.org") is None

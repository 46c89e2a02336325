"""``/docs`` and ``/redoc`` in Chromium with every non-local request refused: both render from local
assets, under their Content-Security-Policy, with no CSP violation in the console."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from paperfeed.web.app import create_app
from tests.factories import store_settings
from tests.servers import ARGS, BROWSER_MARKS, CHROMIUM, free_port, running

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("apidocs")
    settings = store_settings(data, str(data / "pf.db"))
    with running(create_app(settings), free_port(), timeout=60, lifespan="auto") as url:
        yield url


@pytest.fixture
def offline_page(site: str) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A tab where any request leaving 127.0.0.1 is aborted (and recorded), with console messages kept."""
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    console: list[str] = []

    def route(r: Any) -> None:
        if urlsplit(r.request.url).hostname in ("127.0.0.1", None) or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            context = browser.new_context(base_url=site)
            context.set_default_timeout(30_000)
            context.route("**/*", route)
            tab = context.new_page()
            tab.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
            tab.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
            yield tab, blocked, console
        finally:
            browser.close()


def _csp_errors(console: list[str]) -> list[str]:
    return [m for m in console if "Content Security Policy" in m or "Refused to" in m]


def test_swagger_ui_renders_offline(offline_page: tuple[Any, list[str], list[str]]) -> None:
    tab, blocked, console = offline_page
    tab.goto("/docs")
    tab.wait_for_selector(".opblock-summary-path")
    paths = tab.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/search" in paths
    assert len(paths) > 10
    assert tab.locator(".info .title").inner_text().startswith("Paperfeed")
    assert blocked == [], f"requests left the machine: {blocked}"
    assert _csp_errors(console) == []


def test_redoc_renders_offline(offline_page: tuple[Any, list[str], list[str]]) -> None:
    tab, blocked, console = offline_page
    tab.goto("/redoc")
    tab.wait_for_selector("h1")  # ReDoc's API title, rendered from /openapi.json
    assert tab.locator("h1").first.inner_text().startswith("Paperfeed")
    tab.get_by_text("/api/v1/search", exact=False).first.wait_for(state="attached")
    assert tab.locator("[role=menuitem], li[data-item-id]").count() > 10  # the side menu of operations
    assert blocked == [], f"requests left the machine: {blocked}"
    assert _csp_errors(console) == []

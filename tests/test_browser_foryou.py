""" "For you" in a real browser (Debian's chromium via Playwright): save a paper, get recommendations with
their reasons, say "not interested" to one, and see it gone for good (stored, not only hidden)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_browser import CHROMIUM, base_url, browser, page, shoot  # noqa: F401 - shared fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"),
]


def test_not_interested_end_to_end(page: Any) -> None:  # noqa: F811 - the fixture imported above
    from playwright.sync_api import expect

    page.goto("/signup")
    page.fill("input[name=email]", "lin@example.org")
    page.fill("input[name=username]", "lin")
    page.fill("input[name=display_name]", "Lin")
    page.fill("input[name=password]", "a long passphrase")
    page.click("form.stack button[type=submit]")
    expect(page.locator("nav a[href='/account']")).to_have_text("lin")

    # save a paper about language models: the library "For you" starts from
    page.goto("/search?q=large+language+models")
    page.locator("article.card h3 a").first.click()
    saved_title = page.locator("h1").inner_text()
    page.locator("main form.save button:has-text('Save')").first.click()
    expect(page.locator("main form.save button:has-text('Remove from library')")).to_be_visible()

    # the paper page lists related papers, each with its reason
    expect(page.locator("section.similar .reason").first).to_be_visible()
    assert page.locator("section.similar .reason").first.inner_text() in (
        "similar abstract",
        "same authors",
        "members who saved this also saved",
    )

    page.goto("/for-you")
    items = page.locator("ol.cards > li")
    expect(items.first).to_be_visible()
    assert items.count() >= 2
    expect(items.first.locator(".reason-line")).to_contain_text(saved_title)
    shoot(page, "20-for-you")
    dismissed = items.first.locator("h3 a").inner_text()
    items.first.locator("form.not-interested button").click()
    page.wait_for_url("**/for-you")
    expect(page.locator("main")).to_contain_text("1 paper marked “not interested”")
    assert dismissed not in page.locator("ol.cards h3").all_inner_texts()
    page.reload()  # stored, not only hidden
    assert dismissed not in page.locator("ol.cards h3").all_inner_texts()
    shoot(page, "21-for-you-not-interested")

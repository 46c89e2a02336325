"""The header search box as a WAI-ARIA 1.2 combobox in real Chromium: suggestions as you type, arrow keys,
Enter, Escape, aria-activedescendant and a live region; and the plain form without JavaScript."""

from __future__ import annotations

from typing import Any

from tests.test_browser import ARGS, CHROMIUM, base_url, browser, page, pytestmark, shoot  # noqa: F401

__all__ = ["ARGS", "CHROMIUM", "pytestmark"]


def test_header_search_box_is_an_accessible_combobox(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/trending")
    box = page.locator("#site-q")
    expect(box).to_have_attribute("role", "combobox")
    expect(box).to_have_attribute("aria-expanded", "false")
    listbox = page.locator("#" + box.get_attribute("aria-controls"))
    expect(listbox).to_have_attribute("role", "listbox")
    box.click()
    box.press_sequentially("matryo", delay=30)
    options = listbox.locator("[role=option]")
    expect(options.first).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    texts = options.all_inner_texts()
    assert any("Matryoshka Representation Learning" in t for t in texts), texts
    live = page.locator(".combo [role=status][aria-live=polite]")
    expect(live).to_have_text(f"{options.count()} suggestions, use the up and down arrow keys")
    shoot(page, "10-suggestions")

    box.press("ArrowDown")  # the first option becomes active; the focus stays in the box
    first = options.nth(0)
    expect(box).to_have_attribute("aria-activedescendant", first.get_attribute("id"))
    expect(first).to_have_attribute("aria-selected", "true")
    assert page.evaluate("document.activeElement.id") == "site-q"
    box.press("ArrowUp")  # wraps to the last
    expect(box).to_have_attribute("aria-activedescendant", options.nth(options.count() - 1).get_attribute("id"))
    box.press("Escape")  # closes the list, keeps the text
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    assert box.get_attribute("aria-activedescendant") is None and box.input_value() == "matryo"

    box.press("ArrowDown")  # opens again, first option active
    expect(listbox).to_be_visible()
    paper = options.filter(has_text="Matryoshka Representation Learning").first
    while box.get_attribute("aria-activedescendant") != paper.get_attribute("id"):
        box.press("ArrowDown")
    box.press("Enter")  # opens the chosen paper
    page.wait_for_url("**/papers/**")
    expect(page.locator("h1")).to_have_text("Matryoshka Representation Learning")

    page.goto("/trending")  # Enter with no active suggestion submits the search, as before
    page.locator("#site-q").fill("matryoshka")
    page.locator("#site-q").press("Enter")
    page.wait_for_url("**/search?q=matryoshka")
    expect(page.locator("article.card").first).to_be_visible()


def test_search_form_works_without_javascript(browser: Any, base_url: str) -> None:  # noqa: F811
    from playwright.sync_api import expect

    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    try:
        tab = context.new_page()
        tab.goto("/trending")
        box = tab.locator("#site-q")
        assert box.get_attribute("role") is None  # a plain search field: no half-working combobox
        box.fill("matryoshka representation")
        box.press("Enter")
        tab.wait_for_url("**/search?q=matryoshka+representation")
        expect(tab.locator("article.card h3").first).to_contain_text("Matryoshka")
        assert tab.locator("[role=listbox]").count() == 0
    finally:
        context.close()

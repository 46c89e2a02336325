"""Authors and citing in a real browser (Debian's chromium via Playwright): a member claims authorship, a
moderator approves it, the verified mark appears; Cite copies BibTeX and the plain reference; Share copies
the link."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from paperfeed.models import Author
from paperfeed.store.papers import upsert_papers
from paperfeed.web.app import create_app, start_store
from tests.community_helpers import browser_sign_in as sign_in
from tests.community_helpers import browser_sign_out as sign_out
from tests.community_helpers import member
from tests.factories import make_paper
from tests.servers import BROWSER_MARKS, chromium_tab, free_port, running, site_settings
from tests.test_browser import shoot

pytestmark = BROWSER_MARKS
PAPER = "/papers/1706.03762"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    app = create_app(site_settings(tmp_path_factory.mktemp("browser-authors"), port, seed_demo=False))
    start_store(app)
    paper = make_paper(
        id="1706.03762",
        title="Attention Is All You Need",
        primary_category="cs.CL",
        authors=[Author("Ashish Vaswani"), Author("Noam Shazeer")],
    )
    with app.state.engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[paper])
    for name, role in (("ashish", "member"), ("moe", "moderator")):
        member(app.state.engine, name, role)
    with running(app, port) as url:
        yield url


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[Any]:
    with chromium_tab(base_url, permissions=["clipboard-read", "clipboard-write"]) as tab:
        yield tab


def test_claim_approve_and_the_verified_mark(page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page, "ashish", PAPER)
    authors = page.locator("header .authors")
    expect(authors.locator("a.author").first).to_have_attribute("href", "/authors/Ashish%20Vaswani")
    expect(authors.locator(".verified")).to_have_count(0)
    shoot(page, "paper-claim")
    expect(page.get_by_text("I am one of the authors")).to_have_count(1)  # one control, not one per author
    expect(page.get_by_text("I am this author")).to_have_count(0)
    page.locator("details.claim-control summary").click()
    page.locator("#claim-author").select_option("Ashish Vaswani")
    page.locator("form.claim button").click()
    expect(page.locator(".claim-status")).to_contain_text("You claimed to be Ashish Vaswani: waiting for a moderator")
    expect(page.locator("form.claim")).to_have_count(0)  # one claim per paper
    sign_out(page)

    sign_in(page, "moe", "/moderation/claims")
    item = page.locator("li.claim-item")
    expect(item).to_contain_text("@ashish says they are Ashish Vaswani")
    shoot(page, "moderation-claims")
    item.locator("button:has-text('Approve')").click()
    expect(page.locator("main")).to_contain_text("No claims are waiting")
    sign_out(page)

    page.goto(PAPER)  # a visitor sees the mark next to the claimed name only
    mark = page.locator("header .authors .verified")
    expect(mark).to_have_count(1)
    expect(mark).to_have_attribute("href", "/u/ashish")
    page.locator("header .authors a.author").first.click()
    page.wait_for_url("**/authors/Ashish%20Vaswani")
    expect(page.locator("h1")).to_contain_text("Ashish Vaswani")
    expect(page.locator("h1 .verified")).to_have_count(1)
    shoot(page, "author-page")
    page.goto("/u/ashish")
    expect(page.locator("section:has(#claimed-h) h3")).to_have_text(["Attention Is All You Need"])


def test_cite_copies_bibtex_and_the_reference_and_share_copies_the_link(page: Any, base_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(PAPER)
    page.click("a.cite")
    expect(page.locator("#cite-box pre")).to_contain_text("eprint={1706.03762}")
    page.click("#cite-box button:has-text('Copy BibTeX')")
    expect(page.locator("[data-copied]")).to_have_text("BibTeX copied")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith("@misc{") and "archivePrefix={arXiv}" in copied and "primaryClass={cs.CL}" in copied
    page.click("#cite-box button:has-text('Copy reference')")
    expect(page.locator("[data-copied]")).to_have_text("Reference copied")
    reference = page.evaluate("() => navigator.clipboard.readText()")
    assert reference.startswith("Ashish Vaswani and Noam Shazeer. Attention Is All You Need. arXiv:1706.03762")
    page.evaluate("() => { delete Navigator.prototype.share; }")  # no Web Share API: the link is copied
    page.click("a.share")
    expect(page.locator("[data-copied]")).to_have_text("Link copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == base_url + PAPER

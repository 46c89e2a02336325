"""A newcomer's first hour, in a real browser (Debian's chromium via Playwright): a batch of papers added at one
instant lists in the order it arrived; a page past the end says so and links back; the authors index; an
instance without mail says what works instead (Atom feeds) and shows its Subscribe button as disabled; bare
URLs in comments are links and comments show their time; one authorship control per paper; excerpts that end
cleanly (issue 22, items 4, 5 and 10)."""

from __future__ import annotations

import random
import re
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

pytestmark = BROWSER_MARKS
BATCH = 40  # one batch added at one instant, like the demo corpus: 30 on page 1, 10 on page 2
UNDATED = {"published": None, "updated": None, "versions": []}


def _clean_cut_abstract() -> str:
    """An abstract whose 280-character card excerpt is cut right after a sentence's full stop ("values.")."""
    head = "We study how models behave"
    while len(head) + len(" of the values.") < 270:
        head += " again"
    return head + " of the values. Consequently everything else follows in a second sentence that goes on."


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    app = create_app(site_settings(tmp_path_factory.mktemp("browser-newcomer"), port, seed_demo=False))
    start_store(app)
    hexes = [f"pf-{random.Random(n).getrandbits(64):016x}" for n in range(BATCH)]  # hash ids: not arrival order
    batch = [
        make_paper(id=pid, title=f"Batch paper {n:02d}", authors=[], abstract=f"Abstract {n}.", **UNDATED)
        for n, pid in enumerate(hexes, start=1)
    ]
    batch[0].abstract = _clean_cut_abstract()
    written = [
        make_paper(id="2403.00001", title="Compilers", authors=[Author("Grace Hopper"), Author("Alan Turing")]),
        make_paper(id="2403.00002", title="Cobol", authors=[Author("Grace Hopper")]),
        make_paper(id="2403.00003", title="Engines", authors=[Author("Grace Hopper"), Author("Ada Lovelace")]),
    ]
    with app.state.engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=batch)
    with app.state.engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=written)
    member(app.state.engine, "ada")
    with running(app, port) as url:
        yield url


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[Any]:
    with chromium_tab(base_url) as tab:
        yield tab


def test_a_batch_added_at_one_instant_lists_in_arrival_order_and_past_the_end_says_so(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    titles = page.locator("article.card h3").all_inner_texts()
    assert titles == [f"Batch paper {n:02d}" for n in range(1, 31)]  # the order they arrived, not by hash id
    page.goto("/?p=13")
    expect(page.locator("main")).to_contain_text("This page is past the end")
    expect(page.locator("main")).not_to_contain_text("No papers for this day yet")
    page.get_by_role("link", name="Back to page 2").click()
    titles = page.locator("article.card h3").all_inner_texts()
    assert titles == [f"Batch paper {n:02d}" for n in range(31, 41)]


def test_excerpts_end_with_a_clean_ellipsis(page: Any) -> None:
    page.goto("/")
    excerpt = page.locator("article.card .abstract").first.inner_text()
    assert excerpt.endswith("of the values…"), excerpt
    assert not re.search(r"[.,;:]…", page.locator("main").inner_text())


def test_the_authors_index_lists_most_papers_first_with_a_filter_box(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    page.locator("footer").get_by_role("link", name="Authors").click()
    page.wait_for_url("**/authors")
    rows = page.locator("ol.authors-list li").all_inner_texts()
    assert rows == ["Grace Hopper 3 papers", "Ada Lovelace 1 paper", "Alan Turing 1 paper"]
    page.fill("#author-filter", "turing")
    page.click("button:has-text('Filter')")
    expect(page.locator("ol.authors-list li")).to_have_text(["Alan Turing 1 paper"])
    page.locator("ol.authors-list a").click()
    expect(page.locator("h1")).to_have_text("Alan Turing")


def test_without_mail_the_pages_offer_feeds_and_a_disabled_looking_subscribe_button(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    footer = page.locator("footer")
    expect(footer).not_to_contain_text("email inbox")
    expect(footer.get_by_role("link", name="Atom")).to_have_attribute("href", "/feeds/trending.atom")
    page.goto("/subscribe")
    button = page.locator("form.subscribe-form button[type=submit]")
    expect(button).to_be_disabled()
    look = button.evaluate("b => { const s = getComputedStyle(b); return [Number(s.opacity), s.cursor]; }")
    assert look[0] < 0.6 and look[1] == "not-allowed", look
    feeds = page.locator("#feeds-instead")
    expect(feeds).to_contain_text("Atom feeds")
    page.fill("#feed-q", "graph neural networks")
    with page.expect_response(lambda r: "/feeds/search.atom" in r.url) as answer:
        page.click("#feeds-instead button")
    assert answer.value.status == 200 and "application/atom+xml" in answer.value.headers["content-type"]
    assert "q=graph+neural+networks" in answer.value.url and "sort=date" in answer.value.url

    sign_in(page, "ada", "/for-you")
    intro = page.locator("main p.muted").first
    expect(intro).to_contain_text("cannot send mail")
    expect(page.locator("a[href='/subscriptions/manage'], a[href='/digest/preview']")).to_have_count(0)
    expect(intro.get_by_role("link", name="trending papers")).to_have_attribute("href", "/feeds/trending.atom")
    sign_out(page)


def test_comments_link_bare_urls_and_show_their_time_and_authors_have_one_claim_control(page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page, "ada", "/papers/2403.00001")
    expect(page.get_by_text("I am one of the authors")).to_have_count(1)  # one control, not one per name
    expect(page.get_by_text("I am this author")).to_have_count(0)
    page.fill("#comment-body", "The code is at https://github.com/example/compilers.")
    page.click("button:has-text('Post comment')")
    comment = page.locator("article.comment").first
    link = comment.locator(".comment-body a")
    expect(link).to_have_attribute("href", "https://github.com/example/compilers")  # the full stop stays out
    expect(link).to_have_attribute("rel", re.compile("nofollow"))
    expect(comment.locator("time")).to_have_text(re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{2}:\d{2} UTC$"))
    sign_out(page)

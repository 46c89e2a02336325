"""The site in a real browser (Debian's chromium via Playwright), one test per thing a visitor does, each
checking what the page shows; screenshots of every step in light and dark theme are saved to
``test-artifacts/screenshots/``.

home -> search -> paper -> sign up -> upvote -> the paper rises in Trending -> library -> submit -> sign out.
The tests share one server (module scope) and each opens a fresh browser context.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paperfeed.config import Settings
from paperfeed.store.db import open_store
from paperfeed.web.app import create_app
from tests.community_helpers import verify_member
from tests.servers import ARGS as ARGS  # re-exported for the other browser tests
from tests.servers import BROWSER_MARKS, CHROMIUM, browser, free_port, running, site_settings  # noqa: F401 - fixture
from tests.servers import free_port as _free_port  # noqa: F401 - re-exported for the other browser tests

SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
PASSPHRASE = "a long passphrase"

pytestmark = BROWSER_MARKS


SITES: dict[str, Settings] = {}  # a served site's address -> its settings, so a test can reach the store behind it
VISITORS = itertools.count(1)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn server on a free port, on a fresh store seeded with the demo corpus. It sits behind a
    trusted proxy (127.0.0.1), so each test's browser is its own visitor (``X-Forwarded-For``), as people are:
    the per-address sign-up limit counts each of them apart."""
    port = free_port()
    settings = site_settings(tmp_path_factory.mktemp("browser"), port, seed_demo=True)
    settings = settings.model_copy(update={"trusted_proxies": "127.0.0.1"})
    with running(create_app(settings), port) as url:
        SITES[url] = settings
        yield url


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    """A tab in a fresh context (no cookies from another test), coming from its own address; fails on any
    JavaScript error."""
    context = browser.new_context(
        base_url=base_url,
        viewport={"width": 1200, "height": 900},
        reduced_motion="reduce",
        extra_http_headers={"X-Forwarded-For": f"203.0.113.{next(VISITORS)}"},
    )
    errors: list[str] = []
    try:
        context.set_default_timeout(20_000)
        tab = context.new_page()
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


# Every page must be usable with a screen reader: a language, landmarks, one h1, every control named.
A11Y_PROBLEMS = """() => {
  const out = [];
  if (!document.documentElement.lang) out.push("html has no lang");
  for (const sel of ["header", "main", "nav", "footer"]) {
    if (!document.querySelector(sel)) out.push("no " + sel);
  }
  const h1s = document.querySelectorAll("h1").length;
  if (h1s !== 1) out.push("h1 count " + h1s);
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea, button")) {
    const named = (el.labels && el.labels.length) || el.getAttribute("aria-label") ||
                  el.getAttribute("title") || (el.tagName === "BUTTON" && el.textContent.trim());
    if (!named) out.push("unnamed " + el.outerHTML.slice(0, 80));
  }
  for (const img of document.querySelectorAll("img:not([alt])")) out.push("img without alt");
  return out;
}"""


def shoot(page: Any, name: str) -> None:
    """Check the page's accessibility basics, then screenshot it in light and in dark theme."""
    assert page.evaluate(A11Y_PROBLEMS) == [], f"accessibility problems on {page.url}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.screenshot(path=str(SHOTS / f"{name}-{scheme}.png"), full_page=False)
    page.emulate_media(color_scheme="light")


def sign_up(page: Any, name: str, display_name: str) -> None:
    """Create a member through the sign-up form; the header then shows their username."""
    from playwright.sync_api import expect

    page.goto("/signup")
    page.fill("input[name=email]", f"{name}@example.org")
    page.fill("input[name=username]", name)
    page.fill("input[name=display_name]", display_name)
    page.fill("input[name=password]", PASSPHRASE)
    page.click("form.stack button[type=submit]")
    expect(page.locator("nav a[href='/account']")).to_have_text(name)
    # Following the mailed link is what verifies an address (tests/test_email_verification.py); here the store
    # is marked as that link would, since only verified members vote, comment and submit.
    origin = "/".join(page.url.split("/")[:3])
    engine = open_store(SITES[origin])
    try:
        verify_member(engine, name)
    finally:
        engine.dispose()


def test_home_shows_the_latest_day_and_the_weekly_tab_its_week(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    cards = page.locator("article.card")
    expect(cards.first).to_be_visible()
    assert cards.count() >= 3
    first = cards.first
    assert first.locator("h3 a").get_attribute("href").startswith("/papers/")
    expect(first.locator(".meta time")).to_be_visible()  # when it arrived
    assert len(first.locator("p.abstract").inner_text().split()) > 10  # and the start of its abstract
    shoot(page, "01-home")
    page.click("nav.tabs a:has-text('Weekly')")
    expect(page.locator("h1")).to_contain_text("Week")
    expect(cards.first).to_be_visible()
    shoot(page, "01b-week")
    page.click("a[rel=prev]")  # the previous week, still under the Weekly tab
    expect(page.locator("h1")).to_contain_text("Week")
    expect(page.locator("nav.tabs a[aria-current=page]")).to_have_text("Weekly")


def test_header_search_finds_a_paper_by_title_words_and_keeps_filters_open(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    title = page.locator("article.card h3 a").first.inner_text()
    words = " ".join(title.split()[:4])
    page.keyboard.press("/")  # "/" focuses the header search box
    assert page.evaluate("document.activeElement.id") == "site-q"
    page.fill("#site-q", words)
    page.press("#site-q", "Enter")
    page.wait_for_url("**/search?q=*")
    expect(page.locator("article.card").first).to_be_visible()
    assert title in page.locator("article.card h3").all_inner_texts()
    counted = page.locator("main p.muted").first
    expect(counted).to_contain_text(f"for “{words}”")
    matches = counted.inner_text()  # "N results for ..."
    shoot(page, "02-search")
    page.click("summary:has-text('Filters')")
    page.select_option("select[name=sort]", "date")
    page.click("form.search-form button[type=submit]")
    page.wait_for_url("**sort=date**")
    assert page.locator("details.filters").get_attribute("open") is not None  # filters stay visible
    expect(page.locator("select[name=sort]")).to_have_value("date")
    # same matches, another order (the demo papers share one date: the one found may move past page 1)
    expect(page.locator("main p.muted").first).to_have_text(matches)
    shoot(page, "02b-search-filters")


def test_paper_page_shows_the_abstract_and_its_markdown_twin(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    card = page.locator("article.card").first
    title = card.locator("h3 a").inner_text()
    teaser = card.locator("p.abstract").inner_text()
    card.locator("h3 a").click()
    expect(page.locator("h1")).to_have_text(title)
    abstract = page.locator("p.abstract.full").inner_text()
    assert abstract.startswith(" ".join(teaser.split()[:8]))  # the whole abstract the card began
    assert len(abstract) >= len(teaser.rstrip("…"))
    markdown = page.request.get(page.locator("a:has-text('Markdown')").get_attribute("href"))
    assert markdown.ok
    assert title in markdown.text()
    assert " ".join(abstract.split()[:6]) in " ".join(markdown.text().split())
    shoot(page, "03-paper")


def test_sign_up_then_a_token_is_shown_once(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/signup")
    shoot(page, "04-signup")
    sign_up(page, "grace", "Grace H.")
    page.click("nav a[href='/account']")
    page.fill("input[name=name]", "laptop")
    page.click("button:has-text('Create token')")
    token = page.locator("#new-token")
    expect(token).to_contain_text("pf_")
    shoot(page, "04b-account")
    page.goto("/account")
    expect(page.locator("main")).to_contain_text("laptop")  # the token is listed by name...
    assert token.count() == 0  # ...and its secret is not shown again


def test_an_upvote_is_stored_and_lifts_the_paper_to_the_top_of_trending(page: Any) -> None:
    from playwright.sync_api import expect

    sign_up(page, "ida", "Ida")
    page.goto("/")
    target = page.locator("article.card").last.locator("h3 a")  # the day's last (oldest) paper
    target_title = target.inner_text()
    target.click()
    vote = page.locator("main .actions form.vote button")
    expect(vote.locator("[data-count]")).to_have_text("0")
    vote.click()
    expect(vote.locator("[data-count]")).to_have_text("1")
    expect(vote).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(page.locator("main .actions form.vote [data-count]")).to_have_text("1")  # stored, not only shown
    shoot(page, "05-upvoted")

    page.goto("/trending?window=all")
    expect(page.locator("ol.cards article.card h3").first).to_have_text(target_title)
    shoot(page, "06-trending")
    top_vote = page.locator("ol.cards article.card form.vote button").first
    expect(top_vote).to_have_attribute("aria-pressed", "true")
    page.evaluate("window.stayed = true")
    top_vote.click()  # un-vote, then vote again, from the list itself, without leaving the page
    expect(top_vote.locator("[data-count]")).to_have_text("0")
    expect(top_vote).to_have_attribute("aria-pressed", "false")
    top_vote.click()
    expect(top_vote.locator("[data-count]")).to_have_text("1")
    assert page.evaluate("window.stayed") is True, "voting reloaded the page instead of updating it in place"


def test_a_paper_saved_into_a_new_collection_is_listed_there(page: Any) -> None:
    from playwright.sync_api import expect

    sign_up(page, "june", "June")
    page.goto("/library")
    page.fill("input[name=name]", "Reading group")
    page.click("aside button:has-text('Create')")
    expect(page.locator("main h2")).to_have_text("Reading group")
    expect(page.locator("main article.card")).to_have_count(0)
    page.goto("/")
    link = page.locator("article.card h3 a").nth(1)
    title = link.inner_text()
    link.click()
    page.select_option("select#collection", label="Reading group")
    page.click("form.save button:has-text('Save')")
    expect(page.locator(".saved-in")).to_contain_text("Reading group")
    page.goto("/library")
    expect(page.locator("article.card h3")).to_have_text([title])
    shoot(page, "07-library")


def submit_form(page: Any, how: str, username: str, name: str) -> Any:
    """Sign up as a new member and open the submit page: the locator of its form for ``how`` (arxiv or paste)."""
    sign_up(page, username, name)
    page.goto("/submit")
    return page.locator(f"form:has(input[name=how][value={how}])")


def test_submit_by_id_while_offline_says_why_next_to_the_field(page: Any) -> None:
    from playwright.sync_api import expect

    by_id = submit_form(page, "arxiv", "ken", "Ken")
    by_id.locator("input[name=arxiv]").fill("2402.12345")
    by_id.locator("button[type=submit]").click()
    expect(page.locator(".notice.error")).to_contain_text("not submitted")
    message = page.locator("#err-arxiv")  # next to the field it is about
    expect(message).to_be_visible()
    expect(message).to_contain_text("could not reach arXiv")
    expect(message).to_contain_text("offline")
    expect(message).to_contain_text("Paste the paper")
    expect(by_id.locator("input[name=arxiv]")).to_have_attribute("aria-invalid", "true")
    shoot(page, "08-submit-offline")


def test_a_pasted_paper_lands_first_on_the_daily_list_with_its_submitter(page: Any) -> None:
    from playwright.sync_api import expect

    paste = submit_form(page, "paste", "hopper", "Grace Hopper")
    paste.locator("input[name=title]").fill("Browsers Tested: A $\\beta$ Study of <Paperfeed>")
    paste.locator("textarea[name=authors]").fill("Grace Hopper, Alan Turing")
    paste.locator("textarea[name=abstract]").fill(
        "We submit a paper through a real browser and check that it lands on today's daily list with $x^2$ math."
    )
    shoot(page, "09-submit")
    paste.locator("button[type=submit]").click()
    expect(page.locator(".notice.ok")).to_contain_text("daily list")
    expect(page.locator("h1")).to_have_text("Browsers Tested: A β Study of <Paperfeed>")
    expect(page.locator("header .authors")).to_contain_text("Alan Turing")
    shoot(page, "10-submitted")
    page.goto("/")
    first = page.locator("article.card").first
    expect(first.locator("h3")).to_have_text("Browsers Tested: A β Study of <Paperfeed>")
    expect(first.locator(".submitter")).to_have_text("submitted by Grace Hopper")
    shoot(page, "11-home-after-submit")


def test_the_chosen_theme_is_remembered_and_sign_out_shows_sign_in(page: Any) -> None:
    from playwright.sync_api import expect

    sign_up(page, "theo", "Theo")
    before = page.evaluate("document.documentElement.getAttribute('data-theme')")
    page.click("button.theme-toggle")
    after = page.evaluate("document.documentElement.getAttribute('data-theme')")
    assert after in ("light", "dark") and after != before
    page.reload()  # remembered: the server renders the chosen theme
    assert page.evaluate("document.documentElement.getAttribute('data-theme')") == after
    page.click("nav button:has-text('Sign out')")
    expect(page.locator("nav a[href='/login']")).to_be_visible()
    expect(page.locator("nav a[href='/account']")).to_have_count(0)
    shoot(page, "12-signed-out")


def test_phone_layout(browser: Any, base_url: str) -> None:
    phone = browser.new_context(
        base_url=base_url,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        reduced_motion="reduce",
    )
    try:
        phone.set_default_timeout(20_000)
        tab = phone.new_page()
        for path in ("/", "/search", "/trending?window=all", "/login", "/submit"):
            tab.goto(path)
            width = tab.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"no horizontal scrolling on a phone: {path} is {width}px wide"
        tab.goto("/")
        shoot(tab, "13-home-phone")
        tab.locator("article.card h3 a").first.click()
        tab.wait_for_url("**/papers/**")
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        shoot(tab, "14-paper-phone")
        tab.goto("/search?q=attention")
        shoot(tab, "15-search-phone")
        tab.goto("/no/such/page")
        shoot(tab, "16-not-found-phone")
    finally:
        phone.close()

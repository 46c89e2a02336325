"""The site in a real browser (Debian's chromium via Playwright): the whole visitor journey, with
screenshots of every step in light and dark theme saved to ``test-artifacts/screenshots/``.

home -> search -> paper -> sign up -> upvote -> the paper rises in Trending -> submit a paper -> sign out.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paperfeed.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn server on a free port, on a fresh store seeded with the demo corpus."""
    import uvicorn

    from paperfeed.web.app import create_app

    data = tmp_path_factory.mktemp("browser")
    port = _free_port()
    settings = Settings(
        _env_file=None,
        environment="test",
        data_dir=data,
        database_url=str(data / "pf.db"),  # type: ignore[call-arg]
        seed_demo=True,
        embedder="none",
        base_url=f"http://127.0.0.1:{port}",
        arxiv_api_url="http://127.0.0.1:9/api/query",
        arxiv_max_retries=0,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Debian chromium for the module (Playwright never downloads a browser here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1200, "height": 900}, reduced_motion="reduce")
    context.set_default_timeout(20_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
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


def test_visitor_journey(page: Any) -> None:
    from playwright.sync_api import expect

    # 1. home: the latest day's papers
    page.goto("/")
    cards = page.locator("article.card")
    expect(cards.first).to_be_visible()
    assert cards.count() >= 3
    shoot(page, "01-home")
    title = cards.first.locator("h3 a").inner_text()
    page.click("nav.tabs a:has-text('Weekly')")
    expect(page.locator("h1")).to_contain_text("Week")
    expect(cards.first).to_be_visible()
    shoot(page, "01b-week")
    page.click("a[rel=prev]")  # the previous week
    expect(page.locator("nav.tabs a[aria-current=page]")).to_have_text("Weekly")
    page.goto("/")

    # 2. search for words of a paper title, from the header search box ("/" focuses it)
    words = " ".join(title.split()[:4])
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "site-q"
    page.fill("#site-q", words)
    page.press("#site-q", "Enter")
    page.wait_for_url("**/search?q=*")
    expect(page.locator("article.card").first).to_be_visible()
    assert title in page.locator("article.card h3").all_inner_texts()
    shoot(page, "02-search")
    page.click("summary:has-text('Filters')")
    page.select_option("select[name=sort]", "date")
    page.click("form.search-form button[type=submit]")
    page.wait_for_url("**sort=date**")
    assert page.locator("details.filters").get_attribute("open") is not None  # filters stay visible
    shoot(page, "02b-search-filters")

    # 3. open the paper
    page.locator("article.card h3 a", has_text=title).first.click()
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator("#abstract-h")).to_be_visible()
    markdown = page.request.get(page.locator("a:has-text('Markdown')").get_attribute("href"))
    assert markdown.ok and title in markdown.text()
    shoot(page, "03-paper")

    # 4. sign up
    page.goto("/signup")
    page.fill("input[name=email]", "grace@example.org")
    page.fill("input[name=username]", "grace")
    page.fill("input[name=display_name]", "Grace H.")
    page.fill("input[name=password]", "a long passphrase")
    shoot(page, "04-signup")
    page.click("form.stack button[type=submit]")
    expect(page.locator("nav a[href='/account']")).to_have_text("grace")
    page.click("nav a[href='/account']")
    page.fill("input[name=name]", "laptop")
    page.click("button:has-text('Create token')")
    expect(page.locator("#new-token")).to_contain_text("pf_")  # shown once
    shoot(page, "04b-account")

    # 5. upvote the day's last (oldest) paper from the home page
    page.goto("/")
    target = cards.last.locator("h3 a")
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

    # 6. the paper rises to the top of Trending
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

    # 7. save it to the library, in a new named collection
    page.goto("/library")
    page.fill("input[name=name]", "Reading group")
    page.click("aside button:has-text('Create')")
    expect(page.locator("main h2")).to_have_text("Reading group")
    page.goto("/trending?window=all")
    page.locator("ol.cards article.card h3 a").first.click()
    page.select_option("select#collection", label="Reading group")
    page.click("form.save button:has-text('Save')")
    expect(page.locator(".saved-in")).to_contain_text("Reading group")
    page.goto("/library")
    expect(page.locator("article.card h3").first).to_have_text(target_title)
    shoot(page, "07-library")

    # 8. submit by arXiv id: this server is offline, and the page says so
    page.goto("/submit")
    by_id = page.locator("form:has(input[name=how][value=arxiv])")
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

    # 9. submit a paper by pasting its metadata
    paste = page.locator("form:has(input[name=how][value=paste])")
    paste.locator("input[name=title]").fill("Browsers Tested: A $\\beta$ Study of <Paperfeed>")
    paste.locator("textarea[name=authors]").fill("Grace Hopper, Alan Turing")
    paste.locator("textarea[name=abstract]").fill(
        "We submit a paper through a real browser and check that it lands on today's daily list with $x^2$ math."
    )
    shoot(page, "09-submit")
    paste.locator("button[type=submit]").click()
    expect(page.locator(".notice.ok")).to_contain_text("daily list")
    expect(page.locator("h1")).to_have_text("Browsers Tested: A β Study of <Paperfeed>")
    shoot(page, "10-submitted")
    page.goto("/")
    first = page.locator("article.card").first
    expect(first.locator("h3")).to_have_text("Browsers Tested: A β Study of <Paperfeed>")
    expect(first.locator(".submitter")).to_have_text("submitted by Grace H.")
    shoot(page, "11-home-after-submit")

    # 10. theme toggle, then sign out
    before = page.evaluate("document.documentElement.getAttribute('data-theme')")
    page.click("button.theme-toggle")
    after = page.evaluate("document.documentElement.getAttribute('data-theme')")
    assert after in ("light", "dark") and after != before
    page.reload()  # remembered: the server renders the chosen theme
    assert page.evaluate("document.documentElement.getAttribute('data-theme')") == after
    page.click("nav button:has-text('Sign out')")
    expect(page.locator("nav a[href='/login']")).to_be_visible()
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
    phone.close()

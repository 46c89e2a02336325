"""The discussion in a real browser (Debian's chromium via Playwright): comment, reply, edit, report,
moderation (hide from the reports queue, restore on the page), as each member and a visitor see it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from paperfeed.web.app import create_app, start_store
from tests.community_helpers import browser_sign_in as sign_in
from tests.community_helpers import browser_sign_out as sign_out
from tests.community_helpers import member
from tests.servers import BROWSER_MARKS, chromium_tab, free_port, running, site_settings
from tests.test_browser import shoot

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn server on the demo corpus, with members ada and bob and moderator moe."""
    port = free_port()
    app = create_app(site_settings(tmp_path_factory.mktemp("browser-comments"), port, seed_demo=True))
    start_store(app)
    for name, role in (("ada", "member"), ("bob", "member"), ("moe", "moderator")):
        member(app.state.engine, name, role)
    with running(app, port) as url:
        yield url


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[Any]:
    with chromium_tab(base_url) as tab:
        yield tab


def test_discussion_journey(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    card = page.locator("article.card").first
    expect(card.locator(".comments-link")).to_have_text("0 comments")
    paper = card.locator("h3 a").get_attribute("href")

    # ada comments in Markdown (hostile bits included) and replies to herself
    sign_in(page, "ada", paper)
    page.fill(
        "#comment-body", "**Great** paper, code at [repo](https://example.org/code). <script>window.pwned=1</script>"
    )
    page.click("button:has-text('Post comment')")
    top = page.locator("article.comment").first
    expect(top.locator(".comment-body strong")).to_have_text("Great")
    expect(top.locator(".comment-body a")).to_have_attribute("rel", "nofollow ugc")
    expect(top.locator(".comment-body")).to_contain_text("<script>window.pwned=1</script>")  # shown as text
    assert page.evaluate("() => window.pwned") is None
    expect(page.locator("#discussion-h")).to_contain_text("(1 comment)")
    top_id = top.get_attribute("id")
    assert page.url.endswith("#" + top_id)

    page.click("details.comment-reply summary")
    page.locator("details.comment-reply textarea").fill("Also: the ablation in section 4 is _neat_.")
    page.click("button:has-text('Post reply')")
    reply = page.locator("ol.replies article.comment")
    expect(reply).to_have_count(1)
    expect(reply.locator(".comment-body em")).to_have_text("neat")

    # ada edits her comment: the new text shows, marked "edited"
    page.locator(f"#{top_id} details.comment-edit summary").click()
    page.locator(f"#{top_id} details.comment-edit textarea").fill("**Great** paper; the code is linked above.")
    page.locator(f"#{top_id} button:has-text('Save changes')").click()
    expect(page.locator(f"#{top_id} .comment-body")).to_have_text("Great paper; the code is linked above.")
    expect(page.locator(f"#{top_id} .edited")).to_have_text("edited")
    page.locator(f"#{top_id}").scroll_into_view_if_needed()
    shoot(page, "comments-01-paper")  # accessibility basics, then light and dark screenshots
    sign_out(page)

    # bob reports it
    sign_in(page, "bob", paper)
    page.locator(f"#{top_id} details.comment-report summary").click()
    page.locator(f"#{top_id} details.comment-report input[name=reason]").fill("off-topic advertising")
    page.locator(f"#{top_id} button:has-text('Send report')").click()
    expect(page.locator(".notice.ok")).to_contain_text("the moderators will look at that comment")
    sign_out(page)

    # moe hides it from the reports queue
    sign_in(page, "moe", "/moderation")
    queue = page.locator("li.report")
    expect(queue).to_have_count(1)
    expect(queue.locator(".report-reasons")).to_contain_text("bob: off-topic advertising")
    shoot(page, "comments-02-reports-queue")
    queue.locator("button:has-text('Hide')").click()
    expect(page.locator(".moderation .empty")).to_have_text("No open reports. Nothing to do.")
    sign_out(page)

    # a visitor sees a placeholder, not the text, and the count drops
    page.goto(paper)
    expect(page.locator(f"#{top_id} .comment-placeholder")).to_have_text("This comment was hidden by a moderator.")
    expect(page.locator(f"#{top_id} .comment-body")).to_have_count(0)
    expect(page.locator("#discussion-h")).to_contain_text("(1 comment)")

    # moe restores it on the paper page; the visitor sees it again, and the card counts both comments
    sign_in(page, "moe", paper)
    expect(page.locator(f"#{top_id} .hidden-badge")).to_have_text("hidden by a moderator")
    page.locator(f"#{top_id} button:has-text('Restore')").click()
    expect(page.locator(f"#{top_id} .hidden-badge")).to_have_count(0)
    sign_out(page)
    page.goto(paper)
    expect(page.locator(f"#{top_id} .comment-body")).to_have_text("Great paper; the code is linked above.")
    expect(page.locator("#discussion-h")).to_contain_text("(2 comments)")
    page.goto("/")
    expect(page.locator(f"article.card:has(h3 a[href='{paper}']) .comments-link")).to_have_text("2 comments")

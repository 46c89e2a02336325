"""HTML site: daily/week/month/trending pages, paper page, accounts, CSRF, submissions, errors, escaping."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.community.users import USERNAME_RULE, UserAdminError, add_user
from paperfeed.config import Settings
from paperfeed.store.papers import upsert_papers
from paperfeed.web.app import create_app
from tests.community_helpers import verify_member
from tests.factories import add_papers, api_token, make_paper, site_client

HOSTILE_TITLE = 'Attack <script>alert("t")</script> & "quotes" \'single\' $\\alpha$-nets'
HOSTILE_ABSTRACT = "We <img src=x onerror=alert(1)> study $x^{2} \\leq \\beta_i$ and <b>bold</b> claims here."
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    papers = [
        make_paper(
            id="2401.00001", title=HOSTILE_TITLE, abstract=HOSTILE_ABSTRACT, published=TODAY + timedelta(hours=3)
        ),
        make_paper(id="2401.00002", title="Graph Transformers at Scale", published=TODAY + timedelta(hours=1)),
        make_paper(id="2401.00003", title="Yesterday's Paper", published=TODAY - timedelta(hours=5)),
    ]
    with site_client(settings, papers) as c:
        yield c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF token"
    return found.group(1)


def sign_up(client: TestClient, username: str = "ada", password: str = "correct horse") -> str:
    token = csrf_of(client.get("/signup").text)
    r = client.post(
        "/signup",
        data={"email": f"{username}@example.org", "username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    verify_member(client.app.state.engine, username)  # type: ignore[attr-defined] # as the mailed link does
    return csrf_of(client.get("/account").text)  # forms are bound to the session they are shown in


def signed_up_submits_by_id(client: TestClient, arxiv: str) -> httpx.Response:
    """Sign up as ada and submit ``arxiv`` (an id or an arXiv URL) with the form's by-id choice; the answer,
    redirect not followed."""
    token = sign_up(client)
    return client.post("/submit", data={"csrf_token": token, "how": "arxiv", "arxiv": arxiv}, follow_redirects=False)


def test_home_shows_latest_day_with_cards_and_navigation(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    html = r.text
    assert "Graph Transformers at Scale" in html and "Yesterday&#39;s Paper" not in html
    assert html.index("Attack") < html.index("Graph Transformers")  # newest first
    assert "Ada Lovelace" in html and "/papers/2401.00002" in html
    assert "https://arxiv.org/pdf/2401.00002" in html
    yesterday = (TODAY - timedelta(days=1)).date()
    assert f'href="/?date={yesterday}"' in html
    assert "Yesterday&#39;s Paper" in client.get(f"/?date={yesterday}").text
    week = client.get("/?week={}-W{:02d}".format(*TODAY.isocalendar()[:2]))
    assert week.status_code == 200 and "Graph Transformers" in week.text
    month = client.get(f"/?month={TODAY:%Y-%m}&sort=trending")
    assert month.status_code == 200 and "Graph Transformers" in month.text
    # no SMTP settings here: the footer offers the feeds, not a mail this instance cannot send (issue 22)
    assert "email inbox" not in html and 'href="/feeds/trending.atom"' in html


def test_hostile_text_is_escaped_everywhere(client: TestClient) -> None:
    sign_up(client)
    for url in (
        "/",
        "/papers/2401.00001",
        "/trending?window=all",
        "/?week={}-W{:02d}".format(*TODAY.isocalendar()[:2]),
        "/search?q=attack+onerror",
        "/search?q=%3Cscript%3E",
        "/papers/2401.00002",
    ):  # the hostile paper is among 2401.00002's similar papers
        html = client.get(url).text
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold" not in html, url
    page = client.get("/papers/2401.00001").text
    assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    # LaTeX shown cleanly: Greek letters, relations and sub/superscripts, no dollar signs
    assert '<span class="math">α</span>-nets' in page
    assert "x<sup>2</sup> ≤ β<sub>i</sub>" in page


def test_paper_page_details_and_404(client: TestClient) -> None:
    r = client.get("/papers/2401.00002")
    assert r.status_code == 200
    assert "Graph Transformers at Scale" in r.text and "https://arxiv.org/abs/2401.00002" in r.text
    assert "v1" in r.text and "Similar papers" in r.text and "/papers/2401.00002.md" in r.text
    assert client.get("/papers/2401.00002v1").status_code == 200  # versioned ids resolve
    missing = client.get("/papers/9999.99999")
    assert missing.status_code == 404 and "There is no paper" in missing.text
    assert "Traceback" not in missing.text


def test_errors_are_friendly_html_and_json(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        page = c.get("/no/such/page")
        assert page.status_code == 404 and "Page not found" in page.text and "<html" in page.text
        api = c.get("/api/no-such-endpoint")
        assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")
        bad = c.get("/?date=not-a-date")
        assert bad.status_code == 400 and "date" in bad.text
        assert c.get("/?week=2024-W99").status_code == 400
        for url in (
            "/?date=9999-12-31",
            "/?month=0001-01",
            "/?week=9999-W52",
            "/?date=2024-01-01&week=2024-W01",
            "/search?q=x&from=9999-12-31",
            "/papers/" + "x" * 5000,
            "/papers/%00",
            "/trending?p=0",
        ):
            r = c.get(url)
            assert r.status_code in (200, 400, 404) and "Traceback" not in r.text, url
        err = c.get("/boom")
        assert err.status_code == 500 and "Something went wrong" in err.text
        assert "secret internals" not in err.text and "Traceback" not in err.text


def test_signup_login_logout_and_cookie_flags(client: TestClient) -> None:
    token = csrf_of(client.get("/signup").text)
    r = client.post(
        "/signup",
        data={"email": "ada@example.org", "username": "ada", "password": "correct horse", "csrf_token": token},
        follow_redirects=False,
    )
    cookie = r.headers["set-cookie"]
    assert r.status_code == 303 and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie
    account = client.get("/account").text
    assert "ada" in account
    planted = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert planted.status_code == 400  # a token shown before signing in is not this session's
    token = csrf_of(account)
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/account", follow_redirects=False).headers["location"] == "/login?next=/account"
    wrong = client.post("/login", data={"email": "ada@example.org", "password": "wrong password", "csrf_token": token})
    assert wrong.status_code == 400 and "Wrong email or password" in wrong.text
    unknown = client.post(
        "/login", data={"email": "nobody@example.org", "password": "wrong password", "csrf_token": token}
    )
    assert "Wrong email or password" in unknown.text  # same answer: no account enumeration
    ok = client.post(
        "/login",
        data={"email": "ADA", "password": "correct horse", "csrf_token": token, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/"  # no open redirect


def test_signup_errors_name_fields(client: TestClient) -> None:
    sign_up(client, "ada")
    client.cookies.delete("pf_session")
    token = csrf_of(client.get("/signup").text)
    r = client.post(
        "/signup", data={"email": "not-an-email", "username": "x", "password": "short", "csrf_token": token}
    )
    assert r.status_code == 400
    assert 'id="err-email"' in r.text and 'id="err-username"' in r.text and 'id="err-password"' in r.text
    dup = client.post(
        "/signup", data={"email": "ADA@example.org", "username": "ada2", "password": "long enough", "csrf_token": token}
    )
    assert dup.status_code == 400 and "already exists" in dup.text


def test_one_signup_rule_for_the_page_and_the_admins(client: TestClient) -> None:
    """The sign-up page and ``paperfeed users add`` (the admin page too) refuse the same input, saying the same."""
    token = csrf_of(client.get("/signup").text)
    data = {"email": "ada@example.org", "username": "-ada", "password": "correct horse", "csrf_token": token}
    page = client.post("/signup", data=data)
    assert page.status_code == 400 and USERNAME_RULE in html.unescape(page.text)
    with client.app.state.engine.begin() as conn, pytest.raises(UserAdminError) as refused:  # type: ignore[attr-defined]
        add_user(conn=conn, username="-ada", email="ada@example.org", password="correct horse")
    assert (refused.value.field, str(refused.value)) == ("username", USERNAME_RULE)


def test_secure_cookie_behind_https(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"base_url": "https://papers.example.org"}))
    with TestClient(app, base_url="https://testserver") as c:
        token = csrf_of(c.get("/signup").text)
        r = c.post(
            "/signup",
            data={"email": "a@example.org", "username": "ada", "password": "correct horse", "csrf_token": token},
            follow_redirects=False,
        )
        assert "Secure" in r.headers["set-cookie"]
    # a TLS-terminating proxy (X-Forwarded-Proto: https, trusted by uvicorn) makes the request https too
    with TestClient(create_app(settings), base_url="https://testserver") as c:
        token = csrf_of(c.get("/signup").text)
        r = c.post(
            "/signup",
            data={"email": "b@example.org", "username": "bob", "password": "correct horse", "csrf_token": token},
            follow_redirects=False,
        )
        assert "Secure" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]


@pytest.mark.parametrize(
    "path",
    [
        "/signup",
        "/login",
        "/logout",
        "/submit",
        "/papers/2401.00002/vote",
        "/papers/2401.00002/save",
        "/account/tokens",
        "/library/collections",
        "/theme",
        "/account/password",
    ],
)
def test_forms_without_csrf_token_are_refused(client: TestClient, path: str) -> None:
    sign_up(client)
    r = client.post(
        path,
        data={
            "email": "x@example.org",
            "password": "whatever12",
            "username": "zed",
            "name": "n",
            "theme": "dark",
            "action": "up",
        },
    )
    assert r.status_code == 400 and "did not come from this site" in r.text
    forged = client.post(path, data={"csrf_token": "forged.token.value", "action": "up", "theme": "dark"})
    assert forged.status_code == 400


def test_csrf_token_of_another_browser_is_refused(client: TestClient, settings: Settings) -> None:
    sign_up(client)
    other = TestClient(client.app)
    stolen = csrf_of(other.get("/signup").text)  # valid signature, but bound to the other browser's cookie
    r = client.post("/papers/2401.00002/vote", data={"csrf_token": stolen, "action": "up"})
    assert r.status_code == 400


def test_upvote_unvote_and_trending(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    import paperfeed.rank.trending as T

    monkeypatch.setattr(T, "SLOW_S", 0.0)  # every live ranking is cached, as on a big or busy store
    anonymous = client.post(
        "/papers/2401.00002/vote", data={"csrf_token": csrf_of(client.get("/").text)}, follow_redirects=False
    )
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    from_page = client.post(
        "/papers/2401.00002/vote",
        data={"csrf_token": csrf_of(client.get("/").text)},
        headers={"referer": "http://testserver/papers/2401.00002"},
        follow_redirects=False,
    )
    assert from_page.headers["location"] == "/login?next=/papers/2401.00002"  # back to the page, not the POST
    token = sign_up(client)
    r = client.post("/papers/2401.00002/vote", data={"csrf_token": token, "action": "up"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/papers/2401.00002"
    again = client.post(
        "/papers/2401.00002/vote", data={"csrf_token": token, "action": "up"}, headers={"accept": "application/json"}
    )
    assert again.json() == {"id": "2401.00002", "upvotes": 1, "voted": True}  # one vote per member
    trending = client.get("/trending?window=day").text
    assert "Graph Transformers at Scale" in trending and "Attack" not in trending
    page = client.get("/papers/2401.00002").text
    assert 'aria-pressed="true"' in page and 'value="down"' in page
    down = client.post(
        "/papers/2401.00002/vote", data={"csrf_token": token, "action": "down"}, headers={"accept": "application/json"}
    )
    assert down.json()["upvotes"] == 0
    assert "Nothing trending" in client.get("/trending?window=day").text  # the vote cleared the cache
    again = client.post(
        "/api/v1/papers/2401.00002/vote",
        headers={"authorization": f"Bearer {api_token(client.app.state.engine, 'bob')}"},
    )
    assert again.json()["upvotes"] == 1
    assert "Graph Transformers at Scale" in client.get("/trending?window=day").text  # through the API too
    T.forget_cached()


def test_library_and_collections(client: TestClient) -> None:
    token = sign_up(client)
    client.post("/papers/2401.00002/save", data={"csrf_token": token})
    lib = client.get("/library").text
    assert "Graph Transformers at Scale" in lib and "Saved" in lib
    r = client.post(
        "/library/collections", data={"csrf_token": token, "name": "Reading <group>"}, follow_redirects=False
    )
    assert r.status_code == 303
    cid = int(r.headers["location"].split("=")[1])
    client.post("/papers/2401.00003/save", data={"csrf_token": token, "collection": str(cid)})
    one = client.get(f"/library?c={cid}").text
    assert "Yesterday&#39;s Paper" in one and "Graph Transformers" not in one
    assert "Reading &lt;group&gt;" in one
    client.post("/papers/2401.00002/save", data={"csrf_token": token, "action": "remove"})
    assert "Graph Transformers" not in client.get("/library").text
    assert client.get("/library?c=999").status_code == 404


def test_submit_pasted_metadata_appears_on_today_with_submitter(client: TestClient) -> None:
    token = sign_up(client)
    r = client.post(
        "/submit",
        data={
            "csrf_token": token,
            "how": "paste",
            "title": "Pasted <em>Paper</em> on Things",
            "abstract": "A long enough abstract about things, with $\\gamma$ math.",
            "authors": "Grace Hopper\nKatherine Johnson",
            "code_url": "https://github.com/example/code",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and "submitted=1" in r.headers["location"]
    page = client.get(r.headers["location"]).text
    assert "Pasted &lt;em&gt;Paper&lt;/em&gt; on Things" in page and "submitted by ada" in page
    assert "https://github.com/example/code" in page
    home = client.get("/").text
    assert "Pasted &lt;em&gt;Paper&lt;/em&gt;" in home and "submitted by ada" in home
    assert "Pasted &lt;em&gt;Paper" in client.get("/account/submissions").text


def test_submit_errors_are_shown_by_field(client: TestClient) -> None:
    token = sign_up(client)
    r = client.post(
        "/submit", data={"csrf_token": token, "how": "paste", "title": "", "abstract": "short", "authors": "A"}
    )
    assert r.status_code == 400 and "title" in r.text and "a title is required" in r.text
    bad = client.post("/submit", data={"csrf_token": token, "how": "arxiv", "arxiv": "not an id"})
    assert bad.status_code == 400 and "not an arXiv id" in bad.text
    assert client.get("/submit", follow_redirects=False).status_code == 200


def test_submit_by_arxiv_id_offline_says_so(settings: Settings) -> None:
    offline = settings.model_copy(
        update={"arxiv_api_url": "http://127.0.0.1:9/api/query", "http_timeout": 2.0, "arxiv_max_retries": 0}
    )
    with TestClient(create_app(offline)) as c:
        r = signed_up_submits_by_id(c, "2402.12345")
        assert r.status_code == 400
        assert "could not reach arXiv" in r.text and "Paste the paper" in r.text


def test_existing_paper_submitted_by_arxiv_id_goes_on_today(client: TestClient) -> None:
    r = signed_up_submits_by_id(client, "https://arxiv.org/abs/2401.00003v1")
    assert r.status_code == 303 and r.headers["location"].startswith("/papers/2401.00003")
    assert "Yesterday&#39;s Paper" in client.get("/").text  # now on today's list


def test_account_api_tokens(client: TestClient) -> None:
    token = sign_up(client)
    r = client.post("/account/tokens", data={"csrf_token": token, "name": "script"})
    plain = re.search(r'id="new-token">(pf_[^<]+)<', r.text)
    assert plain and r.headers["cache-control"] == "no-store"
    page = client.get("/account").text
    assert "script" in page and plain.group(1) not in page  # shown once only
    token_id = re.search(r"/account/tokens/(\d+)/revoke", page).group(1)  # type: ignore[union-attr]
    client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": token})
    assert "No tokens yet" in client.get("/account").text


def test_security_headers_and_static(client: TestClient) -> None:
    r = client.get("/")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    css = client.get("/static/paperfeed.css")
    assert css.status_code == 200 and "prefers-color-scheme: dark" in css.text
    dark = client.post(
        "/theme", data={"csrf_token": csrf_of(r.text), "theme": "dark", "next": "/trending"}, follow_redirects=False
    )
    assert dark.headers["location"] == "/trending"
    assert 'data-theme="dark"' in client.get("/").text


def test_day_navigation_skips_days_without_papers(client: TestClient) -> None:
    four_days_back = make_paper(id="2401.00009", title="Four Days Back", published=TODAY - timedelta(days=4, hours=-2))
    add_papers(client.app.state.engine, [four_days_back])  # type: ignore[attr-defined]
    yesterday, four_back = (TODAY - timedelta(days=1)).date(), (TODAY - timedelta(days=4)).date()
    page = client.get(f"/?date={yesterday}").text
    assert f'href="/?date={four_back}"' in page  # the empty days in between are skipped
    assert f'href="/?date={TODAY.date()}"' in page
    oldest = client.get(f"/?date={four_back}").text
    assert "Four Days Back" in oldest and 'rel="prev"' not in oldest  # nothing older: no dead link
    assert f"{four_back:%B} {four_back.day}, {four_back.year}" in oldest
    assert 'type="date" name="date"' in oldest  # jump to any date


def test_search_page_snippets_filters_pagination_and_empty_state(client: TestClient) -> None:
    r = client.get("/search?q=graph+transformers")
    assert r.status_code == 200
    assert "Graph Transformers at Scale" in r.text and "1 result for" in r.text
    marked = client.get("/search?q=careful+experiments").text
    assert "<mark>careful</mark> <mark>experiments</mark>" in marked  # highlighted snippets
    # filters live in the URL, come back in the form, and narrow the results
    r = client.get(f"/search?q=study&cat=cs.CL&from={TODAY.date()}&to={TODAY.date()}&sort=date")
    assert r.status_code == 200
    assert 'value="cs.CL"' in r.text and f'value="{TODAY.date()}"' in r.text
    assert '<option value="date" selected>' in r.text
    assert "Yesterday&#39;s Paper" not in r.text
    # the search form as a browser sends it: empty filters mean "no filter"
    as_sent = client.get("/search?q=graph+transformers&cat=&from=&to=&sort=relevance&mode=hybrid")
    assert as_sent.status_code == 200 and "Graph Transformers at Scale" in as_sent.text
    assert client.get("/?date=").status_code == 200
    none = client.get("/search?q=zyzzyva+quuxification")
    assert none.status_code == 200 and "No papers match" in none.text
    assert "mode=dense" not in none.text  # no model here: meaning finds nothing either, so it is not offered
    bad = client.get("/search?q=year:abc")
    assert bad.status_code == 400 and 'role="alert"' in bad.text and "year" in bad.text
    assert "Traceback" not in bad.text
    empty_range = client.get("/search?q=graph&from=2024-02-01&to=2024-01-01")
    assert empty_range.status_code == 400 and "date range" in empty_range.text
    assert client.get("/search").status_code == 200 and "How to search" in client.get("/search").text


def test_search_pagination_keeps_the_query(client: TestClient) -> None:
    app_engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    with app_engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(title=f"Pagination Probe {i}") for i in range(25)])
    first = client.get("/search?q=pagination+probe&cat=cs.CL").text
    assert first.count('<article class="card">') == 20
    nxt = re.search(r'rel="next" href="([^"]+)"', first)
    assert nxt and "q=pagination+probe" in nxt.group(1) and "cat=cs.CL" in nxt.group(1)
    second = client.get(nxt.group(1).replace("&amp;", "&")).text
    assert second.count('<article class="card">') == 5 and 'rel="prev"' in second
    beyond = client.get("/search?q=pagination+probe&cat=cs.CL&p=9").text
    assert "No more results" in beyond and 'href="/search?q=pagination+probe&amp;cat=cs.CL"' in beyond


def test_paper_page_links_urls_and_shows_collections(client: TestClient) -> None:
    app_engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    with app_engine.begin() as conn:
        upsert_papers(
            conn=conn,
            papers_in=[
                make_paper(
                    id="2401.00020",
                    title="Linked",
                    abstract='Code: https://github.com/x/y. See "https://a.org/q?a=1&b=2".',
                )
            ],
        )
    page = client.get("/papers/2401.00020").text
    assert '<a href="https://github.com/x/y" rel="nofollow noopener">https://github.com/x/y</a>.' in page
    assert 'href="https://a.org/q?a=1&amp;b=2"' in page
    token = sign_up(client)
    cid = (
        client.post("/library/collections", data={"csrf_token": token, "name": "Thesis"}, follow_redirects=False)
        .headers["location"]
        .split("=")[1]
    )
    client.post("/papers/2401.00020/save", data={"csrf_token": token, "collection": cid})
    page = client.get("/papers/2401.00020").text
    assert "Saved in" in page and f'href="/library?c={cid}">Thesis</a>' in page
    assert "Remove from library" in page


def _contrast(a: str, b: str) -> float:
    def lum(h: str) -> float:
        rgb = [int(h.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_both_themes_meet_wcag_aa_contrast() -> None:
    from paperfeed.web.app import STATIC_DIR

    css = (STATIC_DIR / "paperfeed.css").read_text(encoding="utf-8")
    light = dict(re.findall(r"--([\w-]+): (#[0-9a-f]{6})", css.split("@media")[0]))
    dark_block = css[css.index(':root[data-theme="dark"]') :]
    dark = {**light, **dict(re.findall(r"--([\w-]+): (#[0-9a-f]{6})", dark_block[: dark_block.index("}")]))}
    pairs = [
        ("text", "bg"),
        ("text", "card"),
        ("muted", "bg"),
        ("muted", "bg-soft"),
        ("muted", "card"),
        ("accent", "bg"),
        ("accent", "card"),
        ("accent-text", "accent"),
        ("accent", "accent-soft"),
        ("text", "mark"),
        ("danger", "err"),
        ("danger", "bg"),
        ("text", "ok"),
        ("text", "err"),
    ]
    for name, theme in (("light", light), ("dark", dark)):
        for fg, bg in pairs:
            ratio = _contrast(theme[fg], theme[bg])
            assert ratio >= 4.5, f"{name} theme: --{fg} on --{bg} is {ratio:.2f}:1, below WCAG AA"


def test_change_password_signs_out_other_sessions(client: TestClient) -> None:
    token = sign_up(client, password="correct horse")
    other = TestClient(client.app)
    other_token = csrf_of(other.get("/login").text)
    other.post("/login", data={"email": "ada", "password": "correct horse", "csrf_token": other_token})
    assert other.get("/account", follow_redirects=False).status_code == 200
    wrong = client.post(
        "/account/password", data={"csrf_token": token, "current": "nope nope", "new": "battery staple"}
    )
    assert wrong.status_code == 400 and "current password is wrong" in wrong.text
    short = client.post("/account/password", data={"csrf_token": token, "current": "correct horse", "new": "x"})
    assert short.status_code == 400 and "at least 8" in short.text
    ok = client.post(
        "/account/password",
        data={"csrf_token": token, "current": "correct horse", "new": "battery staple"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and "password was changed" in client.get(ok.headers["location"]).text
    assert other.get("/account", follow_redirects=False).status_code == 303  # the other browser is out
    client.post("/logout", data={"csrf_token": token})
    old = client.post("/login", data={"email": "ada", "password": "correct horse", "csrf_token": token})
    assert old.status_code == 400
    new = client.post(
        "/login", data={"email": "ada", "password": "battery staple", "csrf_token": token}, follow_redirects=False
    )
    assert new.status_code == 303


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("$\\alpha$-nets", '<span class="math">α</span>-nets'),
        ("$\\|x\\|_2 \\leq \\sqrt{d}$", '<span class="math">‖x‖<sub>2</sub> ≤ √d</span>'),
        ("$x_i^{(t)}$", '<span class="math">x<sub>i</sub><sup>(t)</sup></span>'),
        ("$\\{a, b\\}$", '<span class="math">{a, b}</span>'),
        ("costs \\$5 with $\\mathbf{W}$", 'costs $5 with <span class="math">W</span>'),
        ("En$\\to$De", 'En<span class="math">→</span>De'),
        ("$<script>$", '<span class="math">&lt;script&gt;</span>'),
    ],
)
def test_latex_is_shown_cleanly(text: str, html: str) -> None:
    from paperfeed.web.templating import latex

    assert str(latex(text)) == html


def test_control_characters_never_reach_the_database(client: TestClient) -> None:
    """NUL bytes (which PostgreSQL refuses) in addresses and form fields give a page, never a 500."""
    assert client.get("/papers/%00").status_code == 400
    assert client.get("/api/papers/%00").status_code == 400
    assert client.get("/search?q=a%00b").status_code == 200  # the query language drops control characters
    assert client.get("/?week=2024-W01%00").status_code == 400
    token = csrf_of(client.get("/signup").text)
    r = client.post(
        "/signup",
        data={
            "email": "nul@example.org",
            "username": "nul",
            "password": "correct horse",
            "display_name": "Nul\x00Byte",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    account = client.get("/account").text
    assert "Nul Byte" in account
    token = csrf_of(account)  # signed in now: forms carry a token of this session
    made = client.post("/library/collections", data={"csrf_token": token, "name": "a\x00b"}, follow_redirects=False)
    assert made.status_code == 303
    client.post("/logout", data={"csrf_token": token})
    bad = client.post("/login", data={"email": "nul\x00@example.org", "password": "x\x00y", "csrf_token": token})
    assert bad.status_code == 400 and "Wrong email or password" in bad.text


def test_submit_by_arxiv_id_fetches_from_the_arxiv_api(settings: Settings) -> None:
    """A real local HTTP server answers as export.arxiv.org does (a saved Atom response)."""
    from tests.arxiv_server import Reply, arxiv_server, fixture

    def answer(req: object) -> Reply:
        wanted = getattr(req, "params", {}).get("id_list", "")
        return fixture("api_fetch_two.xml") if wanted.startswith("2401.01234") else Reply(200, b"")

    with arxiv_server(answer) as server:
        online = settings.model_copy(update={"arxiv_api_url": server.url + "/api/query"})
        with TestClient(create_app(online)) as c:
            r = signed_up_submits_by_id(c, "https://arxiv.org/abs/2401.01234v2")
            assert r.status_code == 303 and r.headers["location"].startswith("/papers/2401.01234?submitted=1")
            assert server.requests and server.requests[0].params["id_list"].startswith("2401.01234")
            page = c.get(r.headers["location"]).text
            assert "Sparse Attention for Long Documents" in page and "submitted by ada" in page
            home = c.get("/").text
            assert "Sparse Attention for Long Documents" in home and "submitted by ada" in home
            found = c.get("/search?q=sparse+attention").text  # searchable at once
            assert "Sparse Attention for Long Documents" in found


def test_repeated_failed_sign_ins_are_throttled(client: TestClient) -> None:
    token = sign_up(client, password="correct horse")
    client.post("/logout", data={"csrf_token": token})
    for _ in range(10):
        r = client.post("/login", data={"email": "ada", "password": "guess guess", "csrf_token": token})
        assert r.status_code == 400
    blocked = client.post("/login", data={"email": "ada", "password": "correct horse", "csrf_token": token})
    assert blocked.status_code == 429 and "Too many failed sign-in attempts" in blocked.text
    assert "minutes" in blocked.text and "pf_session" not in blocked.headers.get("set-cookie", "")

"""RSS 2.0 and Atom feeds: daily papers, trending, and any search.

- ``/feeds/daily.rss|atom?date=|week=|month=&sort=`` (default: the latest day with papers);
- ``/feeds/trending.rss|atom?window=day|week|month|all``;
- ``/feeds/search.rss|atom?q=&mode=&sort=&cat=&from=&to=`` (the query language of ``/search``).

Documents are built with lxml, so every title, author and abstract is XML-escaped text; control characters
that XML forbids are dropped. Atom titles and summaries are ``type="text"``. RSS descriptions are HTML by
convention, so the abstract is HTML-escaped first: a ``<script>`` in a title or abstract reaches a feed
reader as the characters ``<script>``, never as markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from lxml import etree

from paperfeed.config import Settings
from paperfeed.errors import FieldError
from paperfeed.links import safe_url
from paperfeed.models import DailySort, SearchMode, SearchSort, TrendingWindow
from paperfeed.rank.daily import PeriodError, daily_papers
from paperfeed.rank.trending import trending
from paperfeed.store.papers import get_papers
from paperfeed.web.deps import OptionalSearcher, StoreDep
from paperfeed.web.listing import Entry, entries_for, field_error, search_query
from paperfeed.web.page_params import SearchText
from paperfeed.web.urls import SiteSettingsDep, paper_url

router = APIRouter(tags=["Feeds"])
ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
FEED_SIZE = 50
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
Format = Literal["rss", "atom"]
MEDIA = {"rss": "application/rss+xml; charset=utf-8", "atom": "application/atom+xml; charset=utf-8"}


def _clean(text: str | None) -> str:
    return _XML_BAD.sub("", text or "")


def _sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    el = etree.SubElement(parent, tag, {k.rstrip("_"): _clean(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _clean(text)
    return el


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Feed:
    """What both formats need: titles, links and the entries, newest or best first."""

    def __init__(
        self, *, title: str, subtitle: str, self_url: str, html_url: str, entries: Sequence[Entry], settings: Settings
    ) -> None:
        self.title, self.subtitle, self.self_url, self.html_url = title, subtitle, self_url, html_url
        self.entries, self.base, self.site = list(entries), settings.base_url.rstrip("/"), settings.site_name

    def url_of(self, e: Entry) -> str:
        return paper_url(e.paper.id, self.base)

    def updated(self) -> datetime:
        stamps = [self.stamp(e) for e in self.entries]
        return max(stamps) if stamps else datetime.now(UTC)

    @staticmethod
    def stamp(e: Entry) -> datetime:
        return e.entered_at or e.paper.updated or datetime.now(UTC)


def atom(feed: Feed) -> bytes:
    """The feed as Atom 1.0 (RFC 4287)."""
    root = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    _sub(root, "title", feed.title, type="text")
    _sub(root, "subtitle", feed.subtitle, type="text")
    _sub(root, "id", feed.self_url)
    _sub(root, "updated", _iso(feed.updated()))
    _sub(root, "link", rel="self", type="application/atom+xml", href=feed.self_url)
    _sub(root, "link", rel="alternate", type="text/html", href=feed.html_url)
    _sub(_sub(root, "author"), "name", feed.site)
    _sub(root, "generator", "Paperfeed")
    for e in feed.entries:
        p, url = e.paper, feed.url_of(e)
        entry = _sub(root, "entry")
        _sub(entry, "title", p.title, type="text")
        _sub(entry, "id", url)
        _sub(entry, "link", rel="alternate", type="text/html", href=url)
        pdf = safe_url(p.pdf_url)
        if pdf:
            _sub(entry, "link", rel="related", type="application/pdf", href=pdf, title="PDF")
        if p.published is not None or e.submitted_at is not None:  # never an invented publication date
            _sub(entry, "published", _iso(feed.stamp(e)))
        _sub(entry, "updated", _iso(max(feed.stamp(e), p.updated or feed.stamp(e))))
        for a in p.authors:
            _sub(_sub(entry, "author"), "name", a.name)
        for c in p.categories:
            _sub(entry, "category", term=c)
        _sub(entry, "summary", p.abstract, type="text")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def rss(feed: Feed) -> bytes:
    """The feed as RSS 2.0, with ``atom:link rel=self`` and ``dc:creator`` for the authors."""
    root = etree.Element("rss", {"version": "2.0"}, nsmap={"atom": ATOM_NS, "dc": DC_NS})
    channel = _sub(root, "channel")
    _sub(channel, "title", feed.title)
    _sub(channel, "link", feed.html_url)
    _sub(channel, "description", feed.subtitle)
    _sub(channel, "language", "en")
    _sub(channel, "lastBuildDate", format_datetime(feed.updated().astimezone(UTC), usegmt=True))
    _sub(channel, "generator", "Paperfeed")
    _sub(channel, f"{{{ATOM_NS}}}link", rel="self", type="application/rss+xml", href=feed.self_url)
    for e in feed.entries:
        p, url = e.paper, feed.url_of(e)
        item = _sub(channel, "item")
        _sub(item, "title", " ".join(p.title.split()))
        _sub(item, "link", url)
        _sub(item, "guid", url, isPermaLink="true")
        _sub(item, "pubDate", format_datetime(feed.stamp(e).astimezone(UTC), usegmt=True))
        if p.authors:
            _sub(item, f"{{{DC_NS}}}creator", ", ".join(a.name for a in p.authors))
        for c in p.categories:
            _sub(item, "category", c)
        authors = html.escape(", ".join(a.name for a in p.authors))
        body = (f"<p>{authors}</p>" if authors else "") + f"<p>{html.escape(p.abstract)}</p>"
        _sub(item, "description", body)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _answer(feed: Feed, fmt: str) -> Response:
    body = atom(feed) if fmt == "atom" else rss(feed)
    return Response(body, media_type=MEDIA[fmt], headers={"Cache-Control": "public, max-age=300"})


def _self(request: Request, settings: Settings) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return settings.base_url.rstrip("/") + request.url.path + query


@dataclass
class FeedTarget:
    """The feed a request asks for: its format, its own address and the site's settings."""

    fmt: Format
    self_url: str
    settings: Settings

    def answer(self, *, title: str, subtitle: str, html_path: str, entries: Sequence[Entry]) -> Response:
        """The feed of ``entries`` in the asked format, titled "Site: ``title``", linking to the page at
        ``html_path`` (cached for five minutes)."""
        feed = Feed(
            title=f"{self.settings.site_name}: {title}",
            subtitle=subtitle,
            self_url=self.self_url,
            html_url=self.settings.base_url.rstrip("/") + html_path,
            entries=entries,
            settings=self.settings,
        )
        return _answer(feed, self.fmt)


def _target(request: Request, fmt: Format, settings: SiteSettingsDep) -> FeedTarget:
    return FeedTarget(fmt, _self(request, settings), settings)


FeedTargetDep = Annotated[FeedTarget, Depends(_target)]


@router.get(
    "/feeds/daily.{fmt}",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}, "application/rss+xml": {}}}},
)
def daily_feed(
    feed: FeedTargetDep,
    engine: StoreDep,
    day: Annotated[date | None, Query(alias="date")] = None,
    week: Annotated[str | None, Query(max_length=10)] = None,
    month: Annotated[str | None, Query(max_length=7)] = None,
    sort: DailySort = "publishedAt",
) -> Response:
    """Daily papers of a day (default: the latest day with papers), an ISO week or a month."""
    try:
        with engine.connect() as conn:
            rows, _ = daily_papers(conn=conn, day=day, week=week, month=month, sort=sort, limit=FEED_SIZE)
    except PeriodError as exc:
        raise field_error(exc.field, str(exc)) from exc
    period = {"date": str(day) if day else None, "week": week, "month": month}
    keep = {k: v for k, v in period.items() if v}
    label = next(iter(keep.values()), None) or (str(rows[0].daily_date) if rows else "latest")
    entries = [Entry(e.paper, e.upvotes, e.submitted_at if e.submitted else None, e.submitted_by) for e in rows]
    home = "/" + ("?" + urlencode(keep) if keep else "")
    return feed.answer(
        title=f"daily papers, {label}",
        subtitle=f"Papers that entered the daily list ({label})",
        html_path=home,
        entries=entries,
    )


@router.get("/feeds/trending.{fmt}", response_class=Response)
def trending_feed(
    feed: FeedTargetDep,
    engine: StoreDep,
    window: TrendingWindow = "week",
) -> Response:
    """Trending papers: upvotes with time decay, best first."""
    with engine.connect() as conn:
        ids, _ = trending(conn=conn, window=window, limit=FEED_SIZE)
        entries = entries_for(conn, list(get_papers(conn=conn, ids=ids).values()))
    return feed.answer(
        title=f"trending papers ({window})",
        subtitle="Papers ranked by upvotes with time decay",
        html_path="/trending?" + urlencode({"window": window}),
        entries=entries,
    )


@router.get("/feeds/search.{fmt}", response_class=Response)
def search_feed(
    request: Request,
    feed: FeedTargetDep,
    engine: StoreDep,
    searcher: OptionalSearcher,
    q: SearchText = "",
    mode: SearchMode = "hybrid",
    sort: SearchSort = "relevance",
    cat: Annotated[list[str], Query()] = [],  # noqa: B006
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    """The first results of a search, in the search's order (``sort=date`` for a "new matches" feed)."""
    try:
        query = search_query(
            q=q, cats=cat, date_from=date_from, date_to=date_to, limit=FEED_SIZE, offset=0, mode=mode, sort=sort
        )
    except FieldError as exc:
        raise field_error(exc.field, str(exc)) from exc
    if searcher is None:
        raise HTTPException(503, "search is not available on this instance")
    with engine.connect() as conn:  # one connection for the whole request
        try:
            results = searcher.answer(query, conn=conn)
        except ValueError as exc:
            raise field_error("q", str(exc)) from exc
        entries = entries_for(conn, [h.paper for h in results.hits])
    what = f"Papers matching \u201c{q.strip()}\u201d" if q.strip() else "Papers matching the filters"
    if results.warning:  # vectors still being made, damaged files...: a feed reader is told too
        what = f"{what}. Note: {results.warning}"
    return feed.answer(
        title=f"search {q.strip() or 'results'}",
        subtitle=what,
        html_path="/search?" + request.url.query,
        entries=entries,
    )

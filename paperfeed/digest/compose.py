"""Compose one subscriber's digest: trending since their last digest, then each topic, then "for you".

Pure: reads the store (and the searcher), never writes and never talks SMTP, so ``paperfeed digest
preview`` and the preview page show exactly what ``digest send`` would send. Each paper appears at most
once, and never a paper this subscriber was already sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection

from paperfeed.models import Paper, SearchResults
from paperfeed.rank.foryou import DenseLike, is_new
from paperfeed.search.protocols import Searcher
from paperfeed.search.request import SearchQuery
from paperfeed.store.papers import get_papers
from paperfeed.store.send_ledger import sent_paper_ids
from paperfeed.store.subscriptions import Subscriber

log = logging.getLogger(__name__)

TRENDING_PER_DIGEST = 10
PER_TOPIC = 5
FOR_YOU = 5
TOPIC_DEPTH = 200  # newest matches of a topic looked at per digest run
_FIRST_LOOKBACK = {"daily": timedelta(days=1), "weekdays": timedelta(days=3), "weekly": timedelta(days=7)}


@dataclass
class DigestItem:
    paper: Paper
    reason: str = ""


@dataclass
class DigestSection:
    """One block of the mail: ``kind`` is trending, topic or for_you; ``title`` is shown as its heading."""

    kind: str
    title: str
    items: list[DigestItem] = field(default_factory=list)


@dataclass
class Digest:
    subscriber: Subscriber
    now: datetime
    since: datetime
    sections: list[DigestSection] = field(default_factory=list)

    @property
    def paper_ids(self) -> list[str]:
        return [item.paper.id for s in self.sections for item in s.items]

    @property
    def is_empty(self) -> bool:
        return not any(s.items for s in self.sections)


@dataclass
class ComposeCache:
    """Results shared by every subscriber of one run (same trending window, same topic query)."""

    trending: dict[str, list[Paper]] = field(default_factory=dict)
    topics: dict[str, list[Paper]] = field(default_factory=dict)


def since_for(subscriber: Subscriber, now: datetime) -> datetime:
    """Start of the digest's span: the last digest, or one period back for a first digest."""
    if subscriber.last_digest_at is not None and subscriber.last_digest_at < now:
        return subscriber.last_digest_at
    return now - _FIRST_LOOKBACK.get(subscriber.frequency, timedelta(days=1))


def trending_window(since: datetime, now: datetime) -> str:
    """The narrowest trending window covering ``since``..``now``."""
    span = now - since
    for name, days in (("day", 1), ("week", 7), ("month", 30)):
        if span <= timedelta(days=days, hours=1):
            return name
    return "all"


def build_digest(
    *,
    conn: Connection,
    searcher: Searcher | None,
    subscriber: Subscriber,
    now: datetime,
    dense: DenseLike | None = None,
    cache: ComposeCache | None = None,
) -> Digest:
    """The digest ``subscriber`` would get at ``now`` (possibly empty: then it is not sent)."""
    cache = cache if cache is not None else ComposeCache()
    since = since_for(subscriber, now)
    taken = sent_paper_ids(conn=conn, subscriber_id=subscriber.id)
    digest = Digest(subscriber=subscriber, now=now, since=since)

    def add(section: DigestSection, papers: list[Paper], limit: int, reason: str = "") -> None:
        for p in papers:
            if len(section.items) >= limit:
                break
            if p.id not in taken:
                taken.add(p.id)
                section.items.append(DigestItem(p, reason))
        if section.items:
            digest.sections.append(section)

    if subscriber.trending:
        add(DigestSection("trending", "Trending"), _trending(conn, cache, since, now), TRENDING_PER_DIGEST)
    for topic in subscriber.topics:
        add(DigestSection("topic", topic), _topic(searcher, cache, topic, since), PER_TOPIC, f"matches {topic}")
    if subscriber.for_you and subscriber.user_id is not None:
        _for_you(conn, searcher, dense, digest, taken, since)
    return digest


def _trending(conn: Connection, cache: ComposeCache, since: datetime, now: datetime) -> list[Paper]:
    from paperfeed.rank.trending import trending

    window = trending_window(since, now)
    if window not in cache.trending:
        ids, _scores = trending(conn=conn, window=window, now=now, limit=200)
        cache.trending[window] = list(get_papers(conn=conn, ids=ids).values())
    return cache.trending[window]


def _topic(searcher: Searcher | None, cache: ComposeCache, topic: str, since: datetime) -> list[Paper]:
    """New papers matching a saved search, best match first; a failing query yields nothing.

    The newest matches are asked for (``sort="date"``), so a new paper is found even when older papers
    match the query better; among the new ones, the search score orders them."""
    key = f"{topic}\x00{since.isoformat()}"
    if key not in cache.topics:
        papers: list[Paper] = []
        if searcher is not None:
            results = _search_newest(searcher, topic)
            if results is not None and not getattr(results, "error", None):
                hits = [h for h in results.hits if is_new(h.paper, since)]
                hits.sort(key=lambda h: -float(getattr(h, "score", 0.0) or 0.0))
                papers = [h.paper for h in hits]
        cache.topics[key] = papers
    return cache.topics[key]


def _search_newest(searcher: Searcher, topic: str) -> SearchResults | None:
    try:
        return searcher.answer(SearchQuery.of(q=topic, limit=TOPIC_DEPTH, offset=0, sort="date"))
    except Exception as exc:  # noqa: BLE001 - a broken topic must not block the rest of the digest
        log.warning("topic %r failed: %s", topic, exc)
        return None


def _for_you(
    conn: Connection,
    searcher: Searcher | None,
    dense: DenseLike | None,
    digest: Digest,
    taken: set[str],
    since: datetime,
) -> None:
    from paperfeed.rank.foryou import recommend

    assert digest.subscriber.user_id is not None
    recs = recommend(
        conn=conn,
        user_id=digest.subscriber.user_id,
        searcher=searcher,
        dense=dense,
        since=since,
        limit=FOR_YOU,
        exclude=taken,
    )
    if not recs.ids:
        return
    papers = get_papers(conn=conn, ids=recs.ids)
    section = DigestSection("for_you", "For you")
    for pid in recs.ids:
        if pid in papers and pid not in taken:
            taken.add(pid)
            section.items.append(DigestItem(papers[pid], recs.reasons.get(pid, "")))
    if section.items:
        digest.sections.append(section)

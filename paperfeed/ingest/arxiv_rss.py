"""arXiv listing feeds (rss.arxiv.org/rss/cs.CL and /atom/cs.CL), parsed with feedparser.

An RSS 2.0 item looks like::

    <item>
      <title>Sparse Attention for Long Documents</title>
      <link>https://arxiv.org/abs/2401.01234</link>
      <description>arXiv:2401.01234v2 Announce Type: replace
    Abstract: We study ...</description>
      <guid isPermaLink="false">oai:arXiv.org:2401.01234v2</guid>
      <category>cs.CL</category>
      <pubDate>Mon, 05 Feb 2024 00:00:00 -0500</pubDate>
      <arxiv:announce_type>replace</arxiv:announce_type>
      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
      <dc:creator>Ada Lovelace, Alan Turing</dc:creator>
    </item>

``new``/``cross`` announce a first version (its date is the announcement date); ``replace`` and
``replace-cross`` announce a newer version, so the stored paper is updated and keeps its history.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import feedparser

from paperfeed.ids import abs_url, pdf_url, split_arxiv_id
from paperfeed.ingest.parsing import authors_from_string, document_parser
from paperfeed.ingest.validate import record_item
from paperfeed.models import Author, Paper, ParsedItem, Rejection, Version
from paperfeed.text import latex_accents

SOURCE = "arxiv-rss"
_HEAD = re.compile(r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*)?", re.IGNORECASE)


def _s(value: Any) -> str:
    """A feed field as text; feedparser hands back dicts or None for damaged markup."""
    return value if isinstance(value, str) else ""


def _when(entry: Any) -> datetime | None:
    # dict.get: feedparser's own .get maps a missing updated_parsed with a DeprecationWarning.
    parsed = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC) if parsed else None


def _authors(entry: Any) -> list[Author]:
    names = [_s(a.get("name")) for a in entry.get("authors") or [] if _s(a.get("name"))]
    if len(names) == 1 and ("," in names[0] or " and " in names[0]):
        return authors_from_string(names[0])
    return [Author(latex_accents(n)) for n in names]


def rss_entry(entry: Any) -> Paper:
    """One feed entry as a Paper; raises ValueError when it carries no arXiv id."""
    summary = _s(entry.get("summary"))
    head = _HEAD.match(summary)
    announce = (_s(entry.get("arxiv_announce_type")) or (head.group("type") if head else "new")).lower()
    found = None
    for candidate in (head.group("id") if head else "", _s(entry.get("id")), _s(entry.get("link"))):
        found = split_arxiv_id(candidate) if candidate else None
        if found:
            break
    if found is None:
        raise ValueError(f"no arXiv id in entry {_s(entry.get('id'))[:80]!r}")
    pid, version = found
    when = _when(entry)
    version = version or 1
    is_replacement = announce.startswith("replace")
    categories = [_s(t.get("term")) for t in entry.get("tags") or [] if _s(t.get("term"))]
    return Paper(
        id=pid,
        title=latex_accents(_s(entry.get("title"))),
        abstract=latex_accents(summary[head.end() :] if head else summary),
        authors=_authors(entry),
        categories=categories,
        primary_category=categories[0] if categories else None,
        published=None if is_replacement else when,
        updated=when,
        versions=[Version(version, when)],
        license=_s(entry.get("rights")) or None,
        abs_url=abs_url(pid),
        pdf_url=pdf_url(pid),
        source=SOURCE,
    )


def _damage(parsed: Any, name: str) -> Rejection | None:
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    line = exc.getLineNumber() if hasattr(exc, "getLineNumber") else None
    message = exc.getMessage() if hasattr(exc, "getMessage") else str(exc)
    if isinstance(exc, feedparser.CharacterEncodingOverride):
        return None
    return Rejection(file=name, line=line, reason=f"malformed feed: {message}")


@document_parser
def parse_arxiv_rss(data: bytes, name: str) -> Iterator[ParsedItem]:
    """Every announced paper of one saved listing feed (RSS 2.0, RSS 1.0 or Atom)."""
    try:
        parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    except Exception as exc:  # noqa: BLE001 - feedparser lets decoder/expat errors escape on damage
        yield Rejection(file=name, reason=f"malformed feed: {type(exc).__name__}: {exc}")
        return
    damage = _damage(parsed, name)
    if not parsed.entries:  # an empty listing (weekend) is not an error; a damaged one is
        if damage is not None:
            yield damage
        elif not parsed.get("version"):
            yield Rejection(file=name, reason="not an RSS or Atom feed")
        return
    for index, entry in enumerate(parsed.entries, start=1):
        yield record_item(rss_entry, entry, file=name, index=index)
    if damage is not None:
        yield damage

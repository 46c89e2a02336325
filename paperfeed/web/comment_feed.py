"""The Atom feed of one paper's discussion (``/papers/{id}/comments.atom``): visible comments and replies,
newest first. Built with lxml; each entry's content is the comment's sanitised HTML (``type="html"``, so
it is escaped text inside the XML)."""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

from paperfeed.community.comments import CommentView, Discussion
from paperfeed.config import Settings
from paperfeed.links import paper_url
from paperfeed.models import Paper

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_SIZE = 100


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _visible(discussion: Discussion) -> list[CommentView]:
    out = []
    for thread in discussion.threads:
        out += [c for c in [thread, *thread.replies] if c.html is not None and not c.hidden and not c.deleted]
    return sorted(out, key=lambda c: (c.row.created_at, c.id), reverse=True)[:FEED_SIZE]


def discussion_atom(*, paper: Paper, discussion: Discussion, settings: Settings) -> bytes:
    """The discussion of ``paper`` as an Atom 1.0 document."""
    base = settings.base_url.rstrip("/")
    page = base + paper_url(paper.id)
    comments = _visible(discussion)
    root = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    _sub(root, "title", f"Discussion: {' '.join(paper.title.split())}", type="text")
    _sub(root, "id", page + "/comments.atom")
    stamps = [c.row.edited_at or c.row.created_at for c in comments]
    _sub(root, "updated", _iso(max(stamps) if stamps else paper.changed_at or datetime.now(UTC)))
    _sub(root, "link", rel="self", type="application/atom+xml", href=page + "/comments.atom")
    _sub(root, "link", rel="alternate", type="text/html", href=page + "#discussion")
    _sub(_sub(root, "author"), "name", settings.site_name)
    _sub(root, "generator", "Paperfeed")
    for c in comments:
        url = f"{page}#comment-{c.id}"
        entry = _sub(root, "entry")
        kind = "Reply" if c.row.parent_id else "Comment"
        _sub(entry, "title", f"{kind} by {c.row.display_name}", type="text")
        _sub(entry, "id", url)
        _sub(entry, "link", rel="alternate", type="text/html", href=url)
        _sub(entry, "published", _iso(c.row.created_at))
        _sub(entry, "updated", _iso(c.row.edited_at or c.row.created_at))
        _sub(_sub(entry, "author"), "name", c.row.display_name)
        _sub(entry, "content", c.html, type="html")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))

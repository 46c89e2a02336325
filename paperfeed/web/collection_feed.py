"""The Atom feed of a public collection (``/c/{slug}.atom``): its papers in the owner's order, each with the
owner's note. Built with lxml like the discussion feed (:mod:`paperfeed.web.comment_feed`)."""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

from paperfeed.config import Settings
from paperfeed.models import Paper
from paperfeed.store.public_collections import Item, PublicCollection
from paperfeed.web.comment_feed import ATOM_NS, _iso, _sub
from paperfeed.web.urls import paper_url


def collection_atom(
    *, collection: PublicCollection, items: list[Item], papers: dict[str, Paper], settings: Settings
) -> bytes:
    base = settings.base_url.rstrip("/")
    page = f"{base}/c/{collection.slug}"
    root = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    _sub(root, "title", f"{collection.name} ({collection.owner})", type="text")
    if collection.description:
        _sub(root, "subtitle", collection.description, type="text")
    _sub(root, "id", page + ".atom")
    stamps = [i.added_at for i in items]
    _sub(root, "updated", _iso(max(stamps) if stamps else datetime.now(UTC)))
    _sub(root, "link", rel="self", type="application/atom+xml", href=page + ".atom")
    _sub(root, "link", rel="alternate", type="text/html", href=page)
    _sub(_sub(root, "author"), "name", collection.owner)
    _sub(root, "generator", "Paperfeed")
    for item in items:
        paper = papers.get(item.paper_id)
        if paper is None:
            continue
        url = paper_url(paper.id, base)
        entry = _sub(root, "entry")
        _sub(entry, "title", " ".join(paper.title.split()), type="text")
        _sub(entry, "id", url)
        _sub(entry, "link", rel="alternate", type="text/html", href=url)
        _sub(entry, "updated", _iso(item.added_at))
        for name in paper.author_names[:20]:
            _sub(_sub(entry, "author"), "name", name)
        text = (f"Note: {item.note}\n\n" if item.note else "") + paper.abstract
        _sub(entry, "summary", text, type="text")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))

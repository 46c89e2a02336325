"""What the parsers of XML responses (arXiv API Atom, OAI-PMH) share: a page of items, the refusal of a
document that is not the expected kind, the damage reported last, and the ``--format`` parser entry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from lxml import etree

from paperfeed.ingest.readers import StreamParser, document_parser
from paperfeed.ingest.xmlutil import XmlDoc, parse_xml
from paperfeed.models import ParsedItem, Rejection


@dataclass
class XmlPage:
    """Papers and located rejections of one response, in document order."""

    items: list[ParsedItem] = field(default_factory=list)


P = TypeVar("P", bound=XmlPage)


def parse_page(
    data: bytes, page: P, *, name: str, root_tag: str, kind: str, fill: Callable[[P, etree._Element, XmlDoc, str], None]
) -> P:
    """``page`` filled by ``fill(page, root, doc, name)``, then the document's damage (if any) as a last Rejection.
    A document that is not ``kind`` at all (no XML, another root element than ``root_tag``) is one Rejection."""
    doc = parse_xml(data)
    root = doc.expected_root(name, root_tag=root_tag, kind=kind)
    if isinstance(root, Rejection):
        page.items.append(root)
        return page
    fill(page, root, doc, name)
    damage = doc.rejection(name)
    if damage is not None:
        page.items.append(damage)
    return page


def page_parser(parse_bytes: Callable[..., XmlPage]) -> StreamParser:
    """The ``--format`` parser of one saved response: the items of ``parse_bytes(data, name=name)``."""

    def parse(data: bytes, name: str) -> Iterator[ParsedItem]:
        yield from parse_bytes(data, name=name).items

    return document_parser(parse)

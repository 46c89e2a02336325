"""What the parsers of XML responses (arXiv API Atom, OAI-PMH) share: safe parsing (no network, no entity
expansion, recovery from damage), a page of items, the refusal of a document that is not the expected kind,
the damage reported last, and the ``--format`` parser entry.

``parse_xml`` returns the root element plus, for a damaged document, the first syntax error with its
line, so a parser can yield what lxml recovered and one Rejection pointing at the damage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from lxml import etree

from paperfeed.ingest.parsing import StreamParser, document_parser
from paperfeed.models import ParsedItem, Rejection

_STRICT = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_comments=True)
_RECOVER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_comments=True, recover=True)


@dataclass
class XmlDoc:
    root: etree._Element | None
    error: str | None = None
    error_line: int | None = None

    def rejection(self, name: str) -> Rejection | None:
        """The damage as a Rejection located at the error's line, if the document was damaged."""
        if self.error is None:
            return None
        return Rejection(file=name, line=self.error_line, reason=f"malformed XML: {self.error}")

    def expected_root(self, name: str, *, root_tag: str, kind: str) -> etree._Element | Rejection:
        """The root element when it is ``root_tag``, else why the document is not ``kind`` at all (no XML
        could be read, or another root element)."""
        root = self.root
        if root is not None and local(root.tag) == root_tag:
            return root
        damage = self.rejection(name)
        if damage is not None:
            return damage
        what = "no XML could be read" if root is None else f"root element is <{local(root.tag)}>"
        return Rejection(file=name, reason=f"not {kind}: {what}")


def parse_xml(data: bytes) -> XmlDoc:
    """Parse ``data``; on a syntax error, recover what lxml can and remember where the error was."""
    if not data.strip():
        return XmlDoc(None, "empty document", 1)
    try:
        return XmlDoc(etree.fromstring(data, _STRICT))
    except etree.XMLSyntaxError as exc:
        message = " ".join(str(exc.msg or exc).split(", line ")[0].split())
        line = exc.lineno or (exc.position[0] if exc.position else None)
    try:
        root = etree.fromstring(data, _RECOVER)
    except etree.XMLSyntaxError:
        root = None
    return XmlDoc(root, message, line)


def damaged_element(elements: list[etree._Element], error_line: int | None) -> int | None:
    """Index of the element the syntax error fell in: the last one starting at or before its line.

    lxml's recovery keeps a half-read element (a truncated title, no abstract); storing it would
    save damaged text, so parsers reject that one record and keep the complete ones around it.
    """
    if error_line is None or not elements:
        return None
    hit = None
    for index, el in enumerate(elements):
        if el.sourceline is not None and el.sourceline <= error_line:
            hit = index
    return hit


def numbered(
    elements: list[etree._Element], doc: XmlDoc, *, name: str, noun: str
) -> Iterator[tuple[int, etree._Element | Rejection]]:
    """Each element with its record number (from 1); the one a syntax error fell in comes as its Rejection
    (see :func:`damaged_element`)."""
    broken = damaged_element(elements, doc.error_line if doc.error is not None else None)
    for index, el in enumerate(elements, start=1):
        if broken is not None and index == broken + 1:
            reason = f"{noun} damaged by malformed XML at line {doc.error_line}"
            yield index, Rejection(file=name, record=index, reason=reason)
        else:
            yield index, el


def text_of(el: etree._Element | None) -> str:
    """All text inside ``el`` (nested markup flattened), or '' for a missing element."""
    if el is None:
        return ""
    return "".join(el.itertext())


def local(tag: object) -> str:
    """Tag name without namespace."""
    return etree.QName(tag).localname if isinstance(tag, str) else ""


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

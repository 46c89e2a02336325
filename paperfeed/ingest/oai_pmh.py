"""OAI-PMH ``ListRecords`` pages from export.arxiv.org/oai2, metadata prefixes ``arXiv`` and ``arXivRaw``.

``arXiv`` records carry structured authors (keyname, forenames, suffix, affiliation), ``created`` and
``updated`` dates and space-separated categories (first = primary). ``arXivRaw`` records carry the whole
version history (``<version version="v2"><date>Mon, 2 Apr 2007 19:18:42 GMT</date><size>..``) and authors
as one string. ``<header status="deleted">`` records become DeletedRecord. The page's resumption token
and ``<error code=..>`` are returned by ``parse_oai_bytes`` for the harvester.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from paperfeed.ids import abs_url, pdf_url, split_arxiv_id
from paperfeed.ingest.parsing import (
    authors_from_string,
    parse_date,
    split_categories,
    version_number,
)
from paperfeed.ingest.validate import clean_text, record_item
from paperfeed.ingest.xmlutil import XmlDoc, XmlPage, numbered, page_parser, parse_page, text_of
from paperfeed.models import Author, DeletedRecord, Paper, ParsedItem, Rejection, Version
from paperfeed.text import latex_accents

OAI = "http://www.openarchives.org/OAI/2.0/"
ARXIV_NS = "http://arxiv.org/OAI/arXiv/"
ARXIVRAW_NS = "http://arxiv.org/OAI/arXivRaw/"
_O = f"{{{OAI}}}"


@dataclass
class OaiPage(XmlPage):
    """One ListRecords response: items, the token for the next page (None/'' = last), OAI error."""

    resumption_token: str | None = None
    complete_list_size: int | None = None
    error: tuple[str, str] | None = None


def _t(el: etree._Element, ns: str, tag: str) -> str:
    return text_of(el.find(f"{{{ns}}}{tag}")).strip()


def _common(meta: etree._Element, ns: str) -> dict[str, object]:
    """Fields the two metadata formats share."""
    pid = _t(meta, ns, "id")
    parsed = split_arxiv_id(pid)
    if parsed is None:
        raise ValueError(f"id {pid[:80]!r} is not an arXiv id")
    categories = split_categories(_t(meta, ns, "categories"))
    doi_words = _t(meta, ns, "doi").split()
    return dict(
        id=parsed[0],
        title=latex_accents(_t(meta, ns, "title")),
        abstract=latex_accents(_t(meta, ns, "abstract")),
        categories=categories,
        primary_category=categories[0] if categories else None,
        comments=_t(meta, ns, "comments") or None,
        journal_ref=_t(meta, ns, "journal-ref") or None,
        doi=doi_words[0] if doi_words else None,
        license=_t(meta, ns, "license") or None,
        abs_url=abs_url(parsed[0]),
        pdf_url=pdf_url(parsed[0]),
    )


def arxiv_record(meta: etree._Element) -> Paper:
    """A ``<arXiv>`` metadata element as a Paper."""
    fields = _common(meta, ARXIV_NS)
    authors = []
    for a in meta.iterfind(f"{{{ARXIV_NS}}}authors/{{{ARXIV_NS}}}author"):
        parts = [_t(a, ARXIV_NS, "forenames"), _t(a, ARXIV_NS, "keyname"), _t(a, ARXIV_NS, "suffix")]
        affiliations = [text_of(x).strip() for x in a.iterfind(f"{{{ARXIV_NS}}}affiliation")]
        name = latex_accents(" ".join(p for p in parts if p))
        authors.append(Author(name, [x for x in affiliations if x]))
    created = parse_date(_t(meta, ARXIV_NS, "created"))
    updated = parse_date(_t(meta, ARXIV_NS, "updated")) or created
    return Paper(
        authors=authors,
        published=created,
        updated=updated,
        versions=[Version(1, created)] if created else [],
        source="oai-arxiv",
        **fields,  # type: ignore[arg-type]
    )


def arxivraw_record(meta: etree._Element) -> Paper:
    """A ``<arXivRaw>`` metadata element as a Paper, with its full version history."""
    fields = _common(meta, ARXIVRAW_NS)
    versions = []
    for v in meta.iterfind(f"{{{ARXIVRAW_NS}}}version"):
        number = version_number(v.get("version"))
        if number is None:
            raise ValueError(f"bad version attribute {v.get('version')!r}")
        versions.append(Version(number, parse_date(_t(v, ARXIVRAW_NS, "date")), _t(v, ARXIVRAW_NS, "size") or None))
    versions.sort(key=lambda v: v.version)
    authors = authors_from_string(_t(meta, ARXIVRAW_NS, "authors"))
    return Paper(
        authors=authors,
        versions=versions,
        published=versions[0].created if versions else None,
        updated=versions[-1].created if versions else None,
        source="oai-arxivraw",
        **fields,  # type: ignore[arg-type]
    )


def _record(record: etree._Element, index: int, name: str) -> ParsedItem:
    header = record.find(f"{_O}header")
    identifier = _t(header, OAI, "identifier") if header is not None else ""
    if header is not None and header.get("status") == "deleted":
        parsed = split_arxiv_id(identifier.rsplit(":", 1)[-1])
        return DeletedRecord(id=parsed[0] if parsed else identifier, file=name, record=index)
    meta = record.find(f"{_O}metadata")
    child = next(iter(meta), None) if meta is not None else None
    if child is None or not isinstance(child.tag, str):
        label = clean_text(identifier)[:80] or index
        return Rejection(file=name, record=index, reason=f"record {label} has no metadata")
    ns = etree.QName(child).namespace
    if ns == ARXIV_NS:
        return record_item(arxiv_record, child, file=name, index=index)
    if ns == ARXIVRAW_NS:
        return record_item(arxivraw_record, child, file=name, index=index)
    return Rejection(file=name, record=index, reason=f"unsupported metadata format {ns!r}")


def parse_oai_bytes(data: bytes, *, name: str) -> OaiPage:
    """Parse one OAI-PMH response held in memory; ``noRecordsMatch`` is an empty page, not a failure."""
    return parse_page(data, OaiPage(), name=name, root_tag="OAI-PMH", kind="an OAI-PMH response", fill=_fill)


def _fill(page: OaiPage, root: etree._Element, doc: XmlDoc, name: str) -> None:
    error = root.find(f"{_O}error")
    if error is not None:
        page.error = (error.get("code") or "unknown", clean_text(text_of(error)))
        if page.error[0] != "noRecordsMatch":
            page.items.append(Rejection(file=name, reason=f"OAI-PMH error {page.error[0]}: {page.error[1]}"))
    records = list(root.iterfind(f"{_O}ListRecords/{_O}record"))
    for index, record in numbered(records, doc, name=name, noun="record"):
        page.items.append(record if isinstance(record, Rejection) else _record(record, index, name))
    token = root.find(f"{_O}ListRecords/{_O}resumptionToken")
    if token is not None:
        page.resumption_token = (token.text or "").strip() or None
        size = (token.get("completeListSize") or "").strip()
        page.complete_list_size = int(size) if size.isdigit() else None


parse_oai_pmh = page_parser(parse_oai_bytes)  # ``--format oai-pmh``: a saved ListRecords page (either prefix)

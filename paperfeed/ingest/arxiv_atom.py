"""arXiv API responses (Atom 1.0 with the ``arxiv:`` and ``opensearch:`` extensions).

One ``<entry>`` per paper::

    <entry>
      <id>http://arxiv.org/abs/2401.01234v2</id>
      <published>2024-01-02T18:00:00Z</published> <updated>2024-02-01T10:00:00Z</updated>
      <title>...</title> <summary>...</summary>
      <author><name>Ada Lovelace</name><arxiv:affiliation>...</arxiv:affiliation></author>
      <link href="http://arxiv.org/abs/2401.01234v2" rel="alternate" type="text/html"/>
      <link title="pdf" href="http://arxiv.org/pdf/2401.01234v2" rel="related" type="application/pdf"/>
      <arxiv:primary_category term="cs.CL"/> <category term="cs.CL"/> <category term="cs.LG"/>
      <arxiv:comment>...</arxiv:comment> <arxiv:journal_ref>...</arxiv:journal_ref> <arxiv:doi>...</arxiv:doi>
    </entry>

An entry whose id is ``http://arxiv.org/api/errors#...`` is the API reporting a bad query, not a paper.
``parse_atom_bytes`` is also used by ``paperfeed fetch-arxiv`` on each API page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from paperfeed.ids import abs_url, pdf_url, split_arxiv_id
from paperfeed.ingest.parsing import parse_date
from paperfeed.ingest.validate import clean_text, record_item
from paperfeed.ingest.xmlutil import XmlDoc, XmlPage, numbered, page_parser, parse_page, text_of
from paperfeed.models import Author, Paper, Rejection, Version
from paperfeed.text import latex_accents

ATOM = "http://www.w3.org/2005/Atom"
ARXIV = "http://arxiv.org/schemas/atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
_A = f"{{{ATOM}}}"
_X = f"{{{ARXIV}}}"
SOURCE = "arxiv-api"


@dataclass
class AtomPage(XmlPage):
    """One parsed API response: papers and located rejections, the result total, API error messages."""

    total_results: int | None = None
    errors: list[str] = field(default_factory=list)


def _child_text(el: etree._Element, tag: str) -> str:
    return text_of(el.find(tag))


def _authors(entry: etree._Element) -> list[Author]:
    out = []
    for a in entry.iterfind(f"{_A}author"):
        affiliations = [text_of(x).strip() for x in a.iterfind(f"{_X}affiliation") if text_of(x).strip()]
        out.append(Author(latex_accents(text_of(a.find(f"{_A}name"))), affiliations))
    return out


def entry_to_paper(entry: etree._Element) -> Paper:
    """One Atom entry as a Paper; raises ValueError naming the missing or bad field."""
    raw_id = _child_text(entry, f"{_A}id").strip()
    parsed = split_arxiv_id(raw_id)
    if parsed is None:
        raise ValueError(f"entry id {raw_id[:80]!r} is not an arXiv id")
    pid, version = parsed
    published = parse_date(_child_text(entry, f"{_A}published"))
    updated = parse_date(_child_text(entry, f"{_A}updated")) or published
    versions = [Version(1, published)]
    if version and version > 1:
        versions.append(Version(version, updated))
    doi = _child_text(entry, f"{_X}doi").strip() or None
    for link in entry.iterfind(f"{_A}link"):
        if link.get("title") == "doi" and not doi:
            doi = (link.get("href") or "").split("doi.org/", 1)[-1] or None
    primary = entry.find(f"{_X}primary_category")
    categories = [c.get("term") or "" for c in entry.iterfind(f"{_A}category")]
    return Paper(
        id=pid,
        title=latex_accents(_child_text(entry, f"{_A}title")),
        abstract=latex_accents(_child_text(entry, f"{_A}summary")),
        authors=_authors(entry),
        categories=categories,
        primary_category=primary.get("term") if primary is not None else None,
        published=published,
        updated=updated,
        versions=versions,
        doi=doi,
        journal_ref=_child_text(entry, f"{_X}journal_ref") or None,
        comments=_child_text(entry, f"{_X}comment") or None,
        abs_url=abs_url(pid),
        pdf_url=pdf_url(pid),
        source=SOURCE,
    )


def _is_error(entry: etree._Element) -> bool:
    return "arxiv.org/api/errors" in _child_text(entry, f"{_A}id")


def _total(root: etree._Element) -> int | None:
    el = root.find(f"{{{OPENSEARCH}}}totalResults")
    text = text_of(el).strip()
    return int(text) if text.isdigit() else None


def parse_atom_bytes(data: bytes, *, name: str) -> AtomPage:
    """Parse one arXiv API response held in memory (pages are small: at most a few MB)."""
    return parse_page(data, AtomPage(), name=name, root_tag="feed", kind="an Atom feed", fill=_fill)


def _fill(page: AtomPage, root: etree._Element, doc: XmlDoc, name: str) -> None:
    page.total_results = _total(root)
    entries = list(root.iterfind(f"{_A}entry"))
    for index, entry in numbered(entries, doc, name=name, noun="entry"):
        if isinstance(entry, Rejection):
            page.items.append(entry)
            continue
        if _is_error(entry):
            message = clean_text(_child_text(entry, f"{_A}summary")) or "unknown error"
            page.errors.append(message)
            page.items.append(Rejection(file=name, record=index, reason=f"arXiv API error: {message}"))
            continue
        page.items.append(record_item(entry_to_paper, entry, file=name, index=index))


parse_arxiv_atom = page_parser(parse_atom_bytes)  # ``--format arxiv-atom``: a saved API response

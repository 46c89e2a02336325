"""BibTeX files (bibtexparser 2.x), e.g. exported from Zotero, Google Scholar or arXiv's "Export BibTeX".

``eprint`` + ``archivePrefix = {arXiv}`` (or an arxiv.org url, or ``journal = {arXiv preprint
arXiv:...}``) gives the arXiv id; entries without one get ``derived_id(title, abstract)``. LaTeX
(``{\\"o}``, ``\\'e``, braces protecting capitals) becomes Unicode; math is kept as written.
Rejections carry the 1-based line where the entry starts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import bibtexparser
from bibtexparser.model import Entry, ParsingFailedBlock
from pylatexenc.latex2text import LatexNodes2Text

from paperfeed.ids import abs_url, derived_id, pdf_url, split_arxiv_id
from paperfeed.ingest.parsing import document_parser
from paperfeed.ingest.validate import paper_or_reason
from paperfeed.models import Author, Paper, ParsedItem, Rejection, Version

# bibtexparser logs every block it gives up on; we report those as located rejections instead.
logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)
_LATEX = LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)
_MONTHS = {
    m: i
    for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)
}


def latex_to_text(value: str) -> str:
    """LaTeX markup to plain Unicode; on markup pylatexenc cannot read, the raw value."""
    if "\\" not in value and "{" not in value and "~" not in value:
        return value
    try:
        return str(_LATEX.latex_to_text(value))
    except Exception:  # noqa: BLE001 - pylatexenc raises assorted errors on broken markup
        return value


def _split_top_level(value: str, sep: str) -> list[str]:
    """Split on ``sep`` outside braces (``{Barnes and Noble}`` is one name)."""
    out, depth, start, i = [], 0, 0, 0
    while i < len(value):
        ch = value[i]
        depth += (ch == "{") - (ch == "}")
        if depth == 0 and value.startswith(sep, i):
            out.append(value[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    out.append(value[start:])
    return [x.strip() for x in out if x.strip()]


def bib_authors(value: str) -> list[Author]:
    """``'Last, First and Other, A.'`` -> Authors named ``First Last``, ``A. Other``."""
    out = []
    for raw in _split_top_level(" ".join(value.split()).replace(" AND ", " and "), " and "):
        parts = _split_top_level(raw, ",")
        if len(parts) == 2:
            raw = f"{parts[1]} {parts[0]}"
        elif len(parts) >= 3:
            raw = f"{parts[2]} {parts[0]} {parts[1]}"
        out.append(Author(latex_to_text(raw)))
    return out


def _published(fields: dict[str, str]) -> datetime | None:
    year = fields.get("year", "").strip()[:4]
    if not year.isdigit():
        return None
    month_text = fields.get("month", "").strip().lower()[:3]
    month = _MONTHS.get(month_text) or (int(month_text) if month_text.isdigit() else 1)
    return datetime(int(year), month if 1 <= month <= 12 else 1, 1, tzinfo=UTC)


def _arxiv_id(fields: dict[str, str]) -> tuple[str, int | None] | None:
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "").lower()
    if fields.get("eprint") and prefix in ("arxiv", ""):
        found = split_arxiv_id(fields["eprint"])
        if found:
            return found
    for key in ("url", "journal", "note", "howpublished"):
        text = fields.get(key, "")
        if "arxiv" in text.lower():
            found = split_arxiv_id(text.split("arXiv:")[-1] if "arXiv:" in text else text)
            if found:
                return found
    return None


def bib_entry(entry: Entry) -> Paper:
    """One BibTeX entry as a Paper."""
    fields = {k.lower(): str(f.value) for k, f in entry.fields_dict.items()}
    title = latex_to_text(fields.get("title", ""))
    abstract = latex_to_text(fields.get("abstract", ""))
    published = _published(fields)
    found = _arxiv_id(fields)
    pid = found[0] if found else derived_id(title, abstract)
    journal = latex_to_text(fields.get("journal") or fields.get("booktitle") or "")
    category = fields.get("primaryclass", "").strip()
    url = fields.get("url", "").strip() or None
    return Paper(
        id=pid,
        title=title,
        abstract=abstract,
        authors=bib_authors(fields.get("author", "")),
        categories=[category] if category else [],
        published=published,
        versions=[Version(found[1])] if found and found[1] else [],
        doi=fields.get("doi") or None,
        journal_ref=None if not journal or journal.lower().startswith("arxiv") else journal,
        abs_url=abs_url(pid) if found else url,
        pdf_url=pdf_url(pid) if found else None,
        comments=latex_to_text(fields.get("note", "")) or None,
        source="bibtex",
    )


def _failure_reason(block: ParsingFailedBlock) -> str:
    """One line saying why bibtexparser gave up on a block (its exceptions often have no message)."""
    error = block.error
    text = str(getattr(error, "abort_reason", "") or error or "").strip()
    if not text and error is not None:
        text = type(error).__name__
    return text.splitlines()[0].strip() if text else "unreadable entry"


@document_parser
def parse_bibtex(raw: bytes, name: str) -> Iterator[ParsedItem]:
    """Every entry of a .bib file; blocks bibtexparser cannot read are rejected with their line."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # older .bib files are often Latin-1
    if "\x00" in text:
        yield Rejection(file=name, reason="binary data (NUL bytes), not a BibTeX file")
        return
    library = bibtexparser.parse_string(text)
    for block in library.blocks:
        line = (block.start_line or 0) + 1
        if isinstance(block, ParsingFailedBlock):
            reason = _failure_reason(block)
            yield Rejection(file=name, line=line, reason=f"malformed BibTeX: {reason}")
            continue
        if not isinstance(block, Entry):
            continue
        cleaned = paper_or_reason(bib_entry, block)
        if isinstance(cleaned, str):
            yield Rejection(file=name, line=line, reason=f"@{block.entry_type}{{{block.key}}}: {cleaned}")
        else:
            yield cleaned

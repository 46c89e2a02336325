"""Registry of input formats: name -> parser, and auto-detection from a file's name and first bytes.

A parser takes a binary stream and the file's name and yields Paper, Rejection (with line or record)
or DeletedRecord items. Parsers stream where the format allows it (JSON lines); the others read one
file at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from paperfeed.ingest.arxiv_atom import parse_arxiv_atom
from paperfeed.ingest.arxiv_rss import parse_arxiv_rss
from paperfeed.ingest.bibtex import parse_bibtex
from paperfeed.ingest.compressed import ArchiveError, InputFileError, read_head
from paperfeed.ingest.hf_json import parse_hf_json
from paperfeed.ingest.hf_pages import parse_hf_page
from paperfeed.ingest.kaggle import parse_kaggle
from paperfeed.ingest.oai_pmh import parse_oai_pmh
from paperfeed.ingest.paperfeed_jsonl import parse_paperfeed_jsonl
from paperfeed.models import ParsedItem

Parser = Callable[..., Iterator[ParsedItem]]

FORMATS: dict[str, Parser] = {
    "arxiv-atom": parse_arxiv_atom,
    "oai-pmh": parse_oai_pmh,
    "arxiv-rss": parse_arxiv_rss,
    "kaggle": parse_kaggle,
    "hf-json": parse_hf_json,
    "bibtex": parse_bibtex,
    "hf-page": parse_hf_page,
    "paperfeed-jsonl": parse_paperfeed_jsonl,
}


class IngestError(RuntimeError):
    """A whole input cannot be read (missing file, unknown format); the message names it."""


_BIB_ENTRY = re.compile(rb"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)
_HF_CHROME = (b"Get trending papers in your email inbox", b"Subscribe")


def detect_format(path: Path) -> str:
    """Best guess of ``path``'s format from its extension and first 4 KiB (decompressed for ``.gz`` and
    ``.zip``); IngestError if none fits."""
    try:
        head, inner = read_head(path)
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (ArchiveError, InputFileError) as exc:
        raise IngestError(str(exc)) from exc
    found = sniff(head, inner)
    if found is None:
        raise IngestError(f"{path}: {why_unknown(head)}; pass --format ({', '.join(sorted(FORMATS))})")
    return found


def why_unknown(head: bytes) -> str:
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        return "file is empty, cannot detect its format"
    if b"\x00" in head:
        return "looks like a binary file, not a paper list"
    return "unrecognised format"


def _sniff_json(text: bytes, filename: str) -> str | None:
    """JSON flavours by their leading keys: only the first 4 KiB are seen, and one Kaggle line (long
    abstract) can be longer than that, so markers near the start of a record decide."""
    first = text.split(b"\n", 1)[0]
    if text.startswith(b"["):
        return "hf-json"
    if b'"format": "paperfeed/' in first or b'"format":"paperfeed/' in first:
        return "paperfeed-jsonl"
    if b'"submitter"' in first or b'"authors_parsed"' in first:
        return "kaggle"
    if b'"paper"' in text or b'"publishedAt"' in text or b'"upvotes"' in text:
        return "hf-json"
    if filename.endswith((".jsonl", ".ndjson")) and b'"abstract"' in first and b'"categories"' in first:
        return "kaggle"
    if filename.endswith(".jsonl"):
        return "paperfeed-jsonl"
    return None


def _sniff_xml(text: bytes) -> str | None:
    if b"<OAI-PMH" in text:
        return "oai-pmh"
    if b"<rss" in text or b"announce_type" in text or b"rss.arxiv.org" in text or b"<rdf:RDF" in text:
        return "arxiv-rss"
    if b"<feed" in text:
        return "arxiv-atom"
    return None


def sniff(head: bytes, filename: str = "") -> str | None:
    """Format name for a file starting with ``head`` (extension breaks ties), or None if unknown."""
    name = filename.lower()
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text or b"\x00" in text:
        return None
    if text.startswith((b"{", b"[")):
        return _sniff_json(text, name)
    if text.startswith(b"<"):
        return _sniff_xml(text)
    if name.endswith((".bib", ".bibtex")) or _BIB_ENTRY.search(text):
        return "bibtex"
    if any(marker in text for marker in _HF_CHROME):  # not any .txt: notes would become junk papers
        return "hf-page"
    return None


__all__ = ["FORMATS", "IngestError", "Parser", "detect_format", "sniff"]

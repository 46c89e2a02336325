"""What every parser shares: reading its file, written once (a whole document, refused past the size limit,
or JSON lines, streamed in constant memory with one Rejection per bad line), and reading fields (arXiv date
formats, versions, categories, author strings, tolerant string access).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO

import orjson

from paperfeed.ingest.validate import clean_paper
from paperfeed.models import Author, Paper, ParsedItem, Rejection
from paperfeed.text import latex_accents

# Absurd sizes: one record line (a Kaggle line is < 100 KB) and one whole document (an API or OAI page is a
# few MB). Past these a parser rejects the line or file instead of holding it in memory. A parsed document
# takes up to ~35 times its size (lxml elements, JSON objects), so 8 MB keeps ingest well under 512 MB.
MAX_LINE_BYTES = 4 << 20
MAX_DOCUMENT_BYTES = 8 << 20
_RFC2822 = "%a, %d %b %Y %H:%M:%S %Z"
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(value: Any) -> datetime | None:
    """An aware UTC datetime from the date shapes arXiv and Hugging Face use, or None.

    Accepts ISO 8601 (``2024-01-02T18:00:00Z``, ``2024-01-02T18:00:00.123+00:00``, ``2024-01-02``)
    and RFC 2822 (``Mon, 2 Apr 2007 19:18:42 GMT``). Naive values are taken as UTC.
    Raises ValueError for a non-empty value that is not a date.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r:.60}")
    text = value.strip()
    if not text:
        return None
    if text[0].isdigit():
        if _DATE_ONLY.match(text):
            return datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    else:
        parsed = parse_rfc2822(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_rfc2822(text: str) -> datetime:
    """``Mon, 2 Apr 2007 19:18:42 GMT`` -> aware UTC datetime (fast path for the arXiv shape)."""
    try:
        return datetime.strptime(text, _RFC2822).replace(tzinfo=UTC)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"not a date: {text[:60]!r}") from exc
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def version_number(value: Any) -> int | None:
    """``'v2'`` or ``2`` -> 2; None when it is not a version."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else None
    if isinstance(value, str):
        text = value.strip().lower().lstrip("v")
        if text.isdigit() and int(text) > 0:
            return int(text)
    return None


def as_str(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else None (JSON sources put null, numbers, lists anywhere)."""
    if isinstance(value, str) and value.strip():
        return value
    return None


def split_categories(text: str | None) -> list[str]:
    """arXiv's space-separated category list; the first is the primary one."""
    return text.split() if text else []


_AFFILIATION = re.compile(r"^(?P<name>[^()]*?)\s*\((?P<aff>.*)\)\s*$")


def split_author_string(text: str) -> list[str]:
    """``'A. One, B. Two (MIT, CERN) and C. Three'`` -> three names (commas inside brackets kept)."""
    names: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text.replace(" and ", ", ").replace("\n", " "):
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth = max(depth - 1, 0)
        if ch == "," and depth == 0:
            names.append("".join(current))
            current = []
        else:
            current.append(ch)
    names.append("".join(current))
    return [n.strip() for n in names if n.strip()]


def authors_from_string(text: str) -> list[Author]:
    """arXiv's one-string author list (``'A. One, B. Two (MIT) and C. Three'``) as Authors.

    A trailing parenthesised part is the affiliation; LaTeX accents become Unicode.
    """
    out = []
    for raw in split_author_string(latex_accents(text)):
        m = _AFFILIATION.match(raw)
        if m and m.group("name"):
            out.append(Author(m.group("name"), [m.group("aff").strip()]))
        else:
            out.append(Author(raw))
    return out


_SKIP_READ = 1 << 16


def numbered_lines(stream: BinaryIO, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes)`` for every line; ``None`` instead of the bytes for a line longer than
    ``limit``, which is skipped to its end without ever being held in memory whole."""
    readline = stream.readline
    lineno = 0
    while True:
        raw = readline(limit)
        if not raw:
            return
        lineno += 1
        if len(raw) >= limit and not raw.endswith(b"\n"):
            del raw  # skip the rest in small reads: memory stays at one limit-sized read, whatever the line
            rest = b""
            while not rest.endswith(b"\n"):
                rest = readline(_SKIP_READ)
                if not rest:
                    break
            yield lineno, None
            continue
        yield lineno, raw


def read_document(stream: BinaryIO, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The whole stream, or ValueError when it is larger than ``limit`` (then only ``limit`` was read)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"file is larger than {limit >> 20} MB, the limit for one document of this format")
    return data


def line_too_long(limit: int = MAX_LINE_BYTES) -> str:
    return f"line is longer than {limit >> 20} MB (limit for one record)"


BOM = b"\xef\xbb\xbf"
StreamParser = Callable[..., Iterator[ParsedItem]]  # (stream, *, name) -> items, as in ingest.formats


def document_parser(parse: Callable[[bytes, str], Iterable[ParsedItem]]) -> StreamParser:
    """Turn ``parse(data, name)`` over a whole document into a ``(stream, *, name)`` parser that reads at
    most the document size limit and rejects a larger file, naming the limit."""

    @functools.wraps(parse)
    def parser(stream: BinaryIO, *, name: str) -> Iterator[ParsedItem]:
        try:
            data = read_document(stream)
        except ValueError as exc:
            yield Rejection(file=name, reason=str(exc))
            return
        yield from parse(data, name)

    return parser


def json_lines(stream: BinaryIO, *, name: str, record: Callable[[Any], Paper]) -> Iterator[ParsedItem]:
    """One paper per JSON line, built by ``record(parsed json)`` and validated; a UTF-8 byte-order mark on the
    first line is skipped and blank lines are ignored. A bad line becomes a Rejection with its number."""
    for lineno, raw in numbered_lines(stream):
        if raw is None:
            yield Rejection(file=name, line=lineno, reason=line_too_long())
            continue
        if lineno == 1:
            raw = raw.removeprefix(BOM)
        if raw.strip():
            yield _json_line(raw, lineno=lineno, name=name, record=record)


def _json_line(raw: bytes, *, lineno: int, name: str, record: Callable[[Any], Paper]) -> ParsedItem:
    try:
        paper = record(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        reason = "not valid UTF-8" if "UTF-8" in exc.msg else f"invalid JSON: {exc.msg}"
        return Rejection(file=name, line=lineno, reason=reason)
    except ValueError as exc:
        return Rejection(file=name, line=lineno, reason=str(exc))
    cleaned = clean_paper(paper)
    if isinstance(cleaned, str):
        return Rejection(file=name, line=lineno, reason=cleaned)
    return cleaned

"""Small text helpers shared by the parsers: arXiv date formats and tolerant string access."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO

from paperfeed.models import Author

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


_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
}
_LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "aa": "å",
    "AA": "Å",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
}
# {\"o}, \"o, \"{o}, \'{\i}, \c{c}, \v s ; and letter macros {\ss}, \o{}, {\aa}
_ACCENT_RE = re.compile(r"\{?\\(['`^\"~=.]|[uvHckr](?=[\s{]))\s*\{?\s*(\\[ij](?![a-zA-Z])|[A-Za-z])\s*\}?\}?")
_LETTER_RE = re.compile(r"\{?\\(ss|aa|AA|ae|AE|oe|OE|o|O|l|L)(?![a-zA-Z])\s*(?:\{\})?\}?")


def _accent(m: re.Match[str]) -> str:
    base = m.group(2)
    base = {"\\i": "i", "\\j": "j"}.get(base, base)
    return unicodedata.normalize("NFC", base + _ACCENTS[m.group(1)])


def latex_accents(text: str) -> str:
    """Replace LaTeX accent macros (``Bal\\'azs``, ``{\\"o}``, ``\\c{c}``, ``{\\ss}``) by Unicode letters.

    Only accents: math and other macros are left as the source wrote them. Cheap when there is no
    backslash, which is the common case on the hot Kaggle path.
    """
    if "\\" not in text:
        return text
    text = _ACCENT_RE.sub(_accent, text)
    return _LETTER_RE.sub(lambda m: _LETTERS[m.group(1)], text)


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


def title_key(title: str) -> str:
    """A title as compared for an exact match (``paperfeed enrich``): LaTeX accents decoded and BibTeX case
    braces dropped (``2{D}`` is ``2D``), then case, accents, macros and punctuation dropped, whitespace
    collapsed."""
    from paperfeed.ids import normalise_title

    return normalise_title(latex_accents(title).replace("{", "").replace("}", ""))

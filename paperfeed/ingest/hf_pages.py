"""Saved Hugging Face Papers pages as plain text (what "select all, copy" of huggingface.co/papers gives).

The text is page chrome ("Get trending papers in your email inbox!", "Subscribe", "new", a date such
as "Mar 17", blank lines) followed by one title line and one abstract line per paper; the first title
may be glued to the chrome ("SubscribeUniversal Checkpointing: ..."). Titles and abstracts are told
apart by shape (length, sentences), not only by alternation, so a missing abstract or an abstract
split over two paragraphs does not shift every later paper. Pages carry no ids, so each paper gets
``derived_id(title, abstract)``; rejections name the line of the title.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from paperfeed.ids import derived_id
from paperfeed.ingest.parsing import line_too_long, numbered_lines
from paperfeed.ingest.validate import clean_paper, clean_text
from paperfeed.models import Paper, ParsedItem, Rejection
from paperfeed.text import latex_accents

SOURCE = "hf-page"
CHROME = frozenset(
    {
        "get trending papers in your email inbox once a day!",
        "get trending papers in your email inbox!",
        "subscribe",
        "new",
        "byak and the research community",
        "daily papers",
        "papers",
        "trending",
        "search",
        "submit",
        "previous",
        "next",
        "upvote",
        "load more",
    }
)
# "SubscribeUniversal Checkpointing..." / "newTitle": chrome glued to a title. Only a capital after
# "new" counts, so a title such as "newsroom: ..." keeps its first word.
_GLUED = re.compile(r"^(?:Subscribe(?=\S)|new(?=[A-Z]))")
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
_DATE = re.compile(
    rf"^(?:{_MONTH}\s+\d{{1,2}}(?:,\s*\d{{4}})?|\d{{1,2}}\s+{_MONTH}(?:\s+\d{{4}})?"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}|published on .*|submitted by .*|·?\s*\d+\s*(?:upvotes?)?)$",
    re.IGNORECASE,
)
MAX_TITLE_CHARS = 300


@dataclass
class _Line:
    number: int
    text: str


def is_chrome(text: str) -> bool:
    """True for navigation/boilerplate lines of a saved page."""
    return text.casefold() in CHROME or _DATE.match(text) is not None


def looks_like_abstract(text: str) -> bool:
    """Abstracts are long and made of sentences; titles are short and rarely end with a full stop."""
    if len(text) > MAX_TITLE_CHARS:
        return True
    return len(text) >= 120 and ". " in text and text.rstrip().endswith(".")


def _content_lines(stream: BinaryIO, name: str) -> Iterator[_Line | Rejection]:
    for number, line in numbered_lines(stream):
        if line is None:
            yield Rejection(file=name, line=number, reason=line_too_long())
            continue
        raw = line
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        if b"\x00" in raw:
            yield Rejection(file=name, line=number, reason="binary data (NUL bytes) in a text page")
            continue
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            yield Rejection(file=name, line=number, reason="not valid UTF-8")
            continue
        text = _GLUED.sub("", text).strip()
        if text and not is_chrome(text):
            yield _Line(number, text)


def _pair(lines: list[_Line]) -> Iterator[tuple[_Line, str]]:
    """(title line, abstract) pairs; consecutive abstract paragraphs are joined."""
    title: _Line | None = None
    abstract: list[str] = []
    for k, line in enumerate(lines):
        abstract_like = looks_like_abstract(line.text)
        if not abstract_like and title is not None and not abstract:
            # Two title-shaped lines in a row: the second is a short abstract when the line after it
            # starts the next entry (strict alternation), otherwise the first title has no abstract.
            after = lines[k + 1].text if k + 1 < len(lines) else None
            if after is None or not looks_like_abstract(after):
                abstract.append(line.text)
                continue
        if abstract_like and title is not None:
            abstract.append(line.text)
            continue
        if title is not None:
            yield title, "\n".join(abstract)
        title, abstract = line, []
        if abstract_like:  # an abstract with no title before it: keep it as a title-less entry
            title, abstract = _Line(line.number, ""), [line.text]
    if title is not None:
        yield title, "\n".join(abstract)


def parse_hf_page(stream: BinaryIO, *, name: str) -> Iterator[ParsedItem]:
    """Papers of one saved page, in page order (duplicates are merged by the store)."""
    lines: list[_Line] = []
    for item in _content_lines(stream, name):
        if isinstance(item, Rejection):
            yield item
        else:
            lines.append(item)
    for title_line, abstract in _pair(lines):
        title = clean_text(latex_accents(title_line.text))
        body = clean_text(latex_accents(abstract))
        if not title:
            yield Rejection(file=name, line=title_line.number, reason="abstract without a title")
            continue
        paper = Paper(id=derived_id(title, body), title=title, abstract=body, source=SOURCE)
        cleaned = clean_paper(paper)
        if isinstance(cleaned, str):
            yield Rejection(file=name, line=title_line.number, reason=cleaned)
        else:
            yield cleaned

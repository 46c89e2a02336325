"""The two ways a parser reads its file, written once: a whole document (refused past the size limit) and
JSON lines (streamed in constant memory, one Rejection per bad line)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

import orjson

from paperfeed.ingest.textutil import line_too_long, numbered_lines, read_document
from paperfeed.ingest.validate import clean_paper
from paperfeed.models import Paper, ParsedItem, Rejection

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

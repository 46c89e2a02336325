"""Registry of input formats: name -> parser, and auto-detection from a file's name and first bytes.

A parser takes a binary stream and the file's name and yields Paper, Rejection (with line or record)
or DeletedRecord items. Parsers must stream where the format allows it (JSON lines).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from paperfeed.ingest.paperfeed_jsonl import parse_paperfeed_jsonl
from paperfeed.models import ParsedItem

Parser = Callable[..., Iterator[ParsedItem]]

FORMATS: dict[str, Parser] = {
    "paperfeed-jsonl": parse_paperfeed_jsonl,
}


def detect_format(path: Path) -> str:
    """Best guess of ``path``'s format from its extension and first kilobytes."""
    with path.open("rb") as f:
        head = f.read(4096)
    return sniff(head, path.name)


def sniff(head: bytes, filename: str = "") -> str:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{") and b'"format": "paperfeed/' in text.split(b"\n", 1)[0]:
        return "paperfeed-jsonl"
    return "paperfeed-jsonl"


__all__ = ["FORMATS", "Parser", "detect_format", "sniff", "BinaryIO"]

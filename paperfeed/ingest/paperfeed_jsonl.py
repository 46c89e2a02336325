"""Paperfeed's own JSON-lines format: one paper per line, every field, lossless (``paperfeed export``).

A line looks like::

    {"format": "paperfeed/1", "id": "2401.01234", "title": "...", "abstract": "...",
     "authors": [{"name": "Ada Lovelace", "affiliations": []}], "categories": ["cs.CL"],
     "primary_category": "cs.CL", "published": "2024-01-02T18:00:00+00:00", "updated": null,
     "versions": [{"version": 1, "created": "2024-01-02T18:00:00+00:00", "size": "1MB"}],
     "doi": null, ..., "source": "arxiv-api", "first_seen": "..."}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO, Any, BinaryIO

from paperfeed.ingest.parsing import json_lines
from paperfeed.models import OPTIONAL_TEXT_FIELDS, Author, Paper, ParsedItem, Version

FORMAT_TAG = "paperfeed/1"
_OPTIONAL = OPTIONAL_TEXT_FIELDS


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def paper_to_json(p: Paper) -> dict[str, Any]:
    """Every field of a paper as plain JSON values."""
    data: dict[str, Any] = {
        "format": FORMAT_TAG,
        "id": p.id,
        "title": p.title,
        "abstract": p.abstract,
        "authors": [{"name": a.name, "affiliations": a.affiliations} for a in p.authors],
        "categories": p.categories,
    }
    data.update({name: getattr(p, name) for name in _OPTIONAL})
    data.update(
        published=_iso(p.published),
        updated=_iso(p.updated),
        versions=[{"version": v.version, "created": _iso(v.created), "size": v.size} for v in p.versions],
        source=p.source,
        first_seen=_iso(p.first_seen),
    )
    if p.withdrawn:
        data["withdrawn"] = True
    return data


def _date(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO date string")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _str_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValueError(f"{name} must be a list of strings")
    return value


def paper_from_json(data: Any) -> Paper:
    """Inverse of :func:`paper_to_json`; raises ValueError naming the bad field."""
    if not isinstance(data, dict):
        raise ValueError("line is not a JSON object")
    if not isinstance(data.get("id"), str) or not isinstance(data.get("title"), str):
        raise ValueError("missing id or title")
    authors = []
    for a in data.get("authors") or []:
        if isinstance(a, str):
            authors.append(Author(a))
        elif isinstance(a, dict) and isinstance(a.get("name"), str):
            authors.append(Author(a["name"], _str_list(a.get("affiliations"), "authors.affiliations")))
        else:
            raise ValueError("authors must be names or {name, affiliations} objects")
    versions = []
    for v in data.get("versions") or []:
        if not isinstance(v, dict) or not isinstance(v.get("version"), int):
            raise ValueError("versions must be {version, created, size} objects")
        versions.append(Version(v["version"], _date(v.get("created"), "versions.created"), v.get("size")))
    optional: dict[str, Any] = {}
    for name in _OPTIONAL:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} must be a string")
        optional[name] = value
    abstract = data.get("abstract") or ""
    if not isinstance(abstract, str):
        raise ValueError("abstract must be a string")
    withdrawn = data.get("withdrawn", False)
    if not isinstance(withdrawn, bool):
        raise ValueError("withdrawn must be true or false")
    return Paper(
        id=data["id"],
        title=data["title"],
        abstract=abstract,
        authors=authors,
        withdrawn=withdrawn,
        categories=_str_list(data.get("categories"), "categories"),
        versions=versions,
        published=_date(data.get("published"), "published"),
        updated=_date(data.get("updated"), "updated"),
        source=str(data.get("source") or "paperfeed-jsonl"),
        first_seen=_date(data.get("first_seen"), "first_seen"),
        **optional,
    )


def parse_paperfeed_jsonl(stream: BinaryIO, *, name: str) -> Iterator[ParsedItem]:
    """Stream a Paperfeed export line by line, in constant memory."""
    return json_lines(stream, name=name, record=paper_from_json)


def write_jsonl(papers: Iterable[Paper], out: IO[str]) -> int:
    """Write papers as Paperfeed JSONL; returns how many were written."""
    n = 0
    for p in papers:
        out.write(json.dumps(paper_to_json(p), ensure_ascii=False) + "\n")
        n += 1
    return n

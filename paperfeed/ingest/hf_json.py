"""Hugging Face papers JSON: ``/api/daily_papers`` and ``/api/papers/search`` responses.

Daily papers are a list of ``{"paper": {id, authors: [{name, hidden, _id, user?}], publishedAt, title,
summary, upvotes, discussionId, ai_summary?, ai_keywords?, githubRepo?, projectPage?}, publishedAt,
title, summary, thumbnail, numComments, submittedBy, isAuthorParticipating, organization?}``; search
returns the same wrappers or bare paper objects. HF paper ids are arXiv ids. The files are small
(one API page), so they are read whole with the standard library, which locates syntax errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from paperfeed.ids import abs_url, derived_id, pdf_url, split_arxiv_id
from paperfeed.ingest.parsing import as_str, document_parser, parse_date
from paperfeed.ingest.validate import record_item
from paperfeed.models import Author, Paper, ParsedItem, Rejection


def _authors(raw: Any) -> list[Author]:
    if not isinstance(raw, list):
        return []
    out = []
    for a in raw:
        name = as_str(a.get("name")) if isinstance(a, dict) else as_str(a)
        if name:
            out.append(Author(name))
    return out


def hf_record(item: Any) -> Paper:
    """One list element (wrapper or bare paper) as a Paper; raises ValueError naming the problem."""
    if not isinstance(item, dict):
        raise ValueError("element is not a JSON object")
    wrapped = isinstance(item.get("paper"), dict)
    paper: dict[str, Any] = item["paper"] if wrapped else item
    source = "hf-daily" if wrapped and ("submittedBy" in item or "thumbnail" in item) else "hf-search"
    title = as_str(paper.get("title")) or as_str(item.get("title")) or ""
    abstract = as_str(paper.get("summary")) or as_str(item.get("summary")) or ""
    raw_id = as_str(paper.get("id"))
    parsed = split_arxiv_id(raw_id) if raw_id else None
    if raw_id and parsed is None:
        raise ValueError(f"paper id {raw_id[:80]!r} is not an arXiv id")
    pid = parsed[0] if parsed else derived_id(title, abstract)
    published = parse_date(as_str(paper.get("publishedAt")) or as_str(item.get("publishedAt")))
    return Paper(
        id=pid,
        title=title,
        abstract=abstract,
        authors=_authors(paper.get("authors")),
        published=published,
        updated=published,
        abs_url=abs_url(pid) if parsed else None,
        pdf_url=pdf_url(pid) if parsed else None,
        code_url=as_str(paper.get("githubRepo")) or as_str(item.get("githubRepo")),
        project_url=as_str(paper.get("projectPage")) or as_str(item.get("projectPage")),
        source=source,
    )


def _elements(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in ("papers", "dailyPapers", "results"):
            if isinstance(data.get(key), list):
                return list(data[key])
        return [data]
    raise ValueError("top level is neither a list nor an object")


@document_parser
def parse_hf_json(raw: bytes, name: str) -> Iterator[ParsedItem]:
    """Every paper of one HF API response; bad elements are rejected by record index."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
        elements = _elements(data)
    except UnicodeDecodeError as exc:
        yield Rejection(file=name, reason=f"not valid UTF-8 (byte {exc.start})")
        return
    except json.JSONDecodeError as exc:
        yield Rejection(file=name, line=exc.lineno, reason=f"invalid JSON: {exc.msg} (column {exc.colno})")
        return
    except (ValueError, RecursionError) as exc:
        yield Rejection(file=name, reason=f"not an HF papers response: {exc}")
        return
    for index, element in enumerate(elements, start=1):
        yield record_item(hf_record, element, file=name, index=index)

"""A paper as Markdown: what ``GET /papers/{id}.md`` serves (``huggingface_hub.HfApi.read_paper``).

Titles and abstracts come from outside (arXiv, pasted submissions), so every piece of text is made inert
before it goes into the document: ``&``, ``<`` and ``>`` become HTML entities (a Markdown renderer shows them
as characters, never as tags), characters that open links, images, code or emphasis are backslash-escaped,
and newlines in one-line fields are folded so nothing can start a heading or a list. LaTeX such as
``$\\alpha$`` is kept as written, which is how Markdown math renderers expect it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from paperfeed.links import doi_url, safe_url
from paperfeed.models import Paper
from paperfeed.store.users import UserPublic

_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Characters that start Markdown constructs inside a line (links, images, code, emphasis, strikethrough,
# tables, closing heading marks) and a backslash that would otherwise escape the next character.
_INLINE = re.compile(r"([\[\]`*_|!#~]|\\(?=[!-/:-@\[-`{-~]))")
# Block starters at the beginning of a paragraph: quotes, lists, thematic breaks, setext underlines.
_BLOCK_START = re.compile(r"^([>+\-=])")
_ORDERED_START = re.compile(r"^(\d+)([.)])")


def escape_inline(text: str) -> str:
    """``text`` as literal Markdown text on one line (no HTML, no links, no emphasis)."""
    flat = " ".join(text.split())
    return _INLINE.sub(r"\\\1", flat.translate(_HTML))


def escape_block(text: str) -> str:
    """``text`` as literal Markdown paragraphs: blank lines separate paragraphs, nothing else is markup."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]
    out = []
    for para in paragraphs:
        if not para:
            continue
        safe = _INLINE.sub(r"\\\1", para.translate(_HTML))
        out.append(_ORDERED_START.sub(r"\1\\\2", _BLOCK_START.sub(r"\\\1", safe)))
    return "\n\n".join(out)


def _url(value: str | None) -> str | None:
    """Only http(s) links, with characters that could end the Markdown link target percent-encoded."""
    value = safe_url(value)
    if not value:
        return None
    return value.replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def _day(value: datetime | None) -> str | None:
    return value.date().isoformat() if value else None


def _links(paper: Paper, page_url: str) -> Iterable[str]:
    candidates = [
        ("Paper page", page_url),
        ("arXiv", paper.abs_url),
        ("PDF", paper.pdf_url),
        ("DOI", doi_url(paper.doi) if paper.doi else None),
        ("Code", paper.code_url),
        ("Project page", paper.project_url),
    ]
    for label, target in candidates:
        url = _url(target)
        if url:
            yield f"[{label}]({url})"


def paper_markdown(
    paper: Paper,
    *,
    page_url: str,
    upvotes: int = 0,
    submitted_at: datetime | None = None,
    submitted_by: UserPublic | None = None,
) -> str:
    """The Markdown document of one paper: title, metadata lines, links and the abstract."""
    lines = [f"# {escape_inline(paper.title)}", ""]
    if paper.authors:
        lines.append("**Authors:** " + ", ".join(escape_inline(a.name) for a in paper.authors) + "  ")
    id_label = "arXiv id" if paper.abs_url and "arxiv.org" in paper.abs_url else "Id"
    facts = [
        (id_label, escape_inline(paper.id)),
        ("Published", _day(paper.published)),
        ("Updated", _day(paper.updated) if paper.updated != paper.published else None),
        ("Version", f"v{paper.latest_version}" if paper.latest_version else None),
        ("Categories", escape_inline(", ".join(paper.categories)) if paper.categories else None),
        ("Upvotes", str(upvotes)),
    ]
    if submitted_at is not None:
        who = f" by {escape_inline(submitted_by.username)}" if submitted_by else ""
        facts.append(("Submitted to daily papers", f"{submitted_at.date().isoformat()}{who}"))
    for label, value in facts:
        if value:
            lines.append(f"**{label}:** {value}  ")
    if paper.journal_ref:
        lines.append(f"**Journal reference:** {escape_inline(paper.journal_ref)}  ")
    if paper.comments:
        lines.append(f"**Comments:** {escape_inline(paper.comments)}  ")
    links = list(_links(paper, page_url))
    if links:
        lines.append("**Links:** " + " · ".join(links))
    lines += ["", "## Abstract", "", escape_block(paper.abstract) or "_No abstract._", ""]
    return "\n".join(lines)

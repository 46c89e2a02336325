"""Citations: BibTeX entries and plain-text references for papers.

arXiv papers get the entry arXiv itself suggests (``@misc`` with ``eprint``, ``archivePrefix={arXiv}``,
``primaryClass`` and ``url``); other papers a ``@misc`` (or ``@article`` with a journal reference) with their
DOI or link. Titles keep their LaTeX; characters BibTeX treats specially outside math (``&``, ``%``, ``#``) are
escaped, and unbalanced braces dropped, so every entry parses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from paperfeed.authors import author_key
from paperfeed.ids import abs_url, is_arxiv_id
from paperfeed.links import safe_url
from paperfeed.models import Paper

_SPECIAL = re.compile(r"(?<!\\)([&%#])")
_STOP = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "towards", "toward", "is"}


def _braces_balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def bib_value(text: str) -> str:
    """``text`` safe inside ``{...}`` of a BibTeX field."""
    text = _SPECIAL.sub(r"\\\1", " ".join(text.split()))
    return text if _braces_balanced(text) else text.replace("{", "").replace("}", "")


_NEW_STYLE_YYMM = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}$")
_OLD_STYLE_YYMM = re.compile(r"/(\d{2})(\d{2})\d{3}$")


def arxiv_id_year(arxiv_id: str) -> int | None:
    """The year an arXiv id was issued: ``2205.13147`` -> 2022, ``hep-th/9901001`` -> 1999 (arXiv began in 1991;
    new-style ids began in April 2007); None for anything else."""
    if not is_arxiv_id(arxiv_id):
        return None
    m = _NEW_STYLE_YYMM.match(arxiv_id) or _OLD_STYLE_YYMM.search(arxiv_id)
    if m is None or not 1 <= int(m.group(2)) <= 12:
        return None
    yy = int(m.group(1))
    return (1900 if yy >= 91 else 2000) + yy


def paper_year(paper: Paper) -> int | None:
    """The year a paper appeared: from its publication date, else from its arXiv id, else unknown (None).

    Never from when this instance added it (``first_seen``): that would invent a year for every undated paper.
    """
    if paper.published is not None:
        return paper.published.year
    return arxiv_id_year(paper.id)


def _year(paper: Paper) -> str | None:
    year = paper_year(paper)
    return str(year) if year else None


def cite_key(paper: Paper) -> str:
    """``surname + year + first title word`` in ASCII (``vaswani2017attention``); the id when there is no author."""
    surname = author_key(paper.authors[0].name).split()[-1:] if paper.authors else []
    title_words = [w for w in author_key(paper.title).split() if w not in _STOP]
    parts = [surname[0] if surname else "", _year(paper) or "", title_words[0] if title_words else ""]
    key = re.sub(r"[^a-z0-9]", "", "".join(parts))
    return key or re.sub(r"[^A-Za-z0-9]", "", paper.id) or "paper"


def bibtex(paper: Paper, key: str | None = None) -> str:
    """One BibTeX entry for ``paper``."""
    fields: list[tuple[str, str]] = [("title", paper.title)]
    if paper.authors:
        fields.append(("author", " and ".join(a.name for a in paper.authors)))
    year = _year(paper)
    if year:
        fields.append(("year", year))
    kind = "misc"
    if is_arxiv_id(paper.id):
        fields += [("eprint", paper.id), ("archivePrefix", "arXiv")]
        if paper.primary_category:
            fields.append(("primaryClass", paper.primary_category))
        fields.append(("url", abs_url(paper.id)))
    else:
        if paper.journal_ref:
            kind = "article"
            fields.append(("journal", paper.journal_ref))
        url = safe_url(paper.abs_url) or safe_url(paper.project_url)
        if url:
            fields.append(("url", url))
    if paper.doi:
        fields.append(("doi", paper.doi))
    body = ",\n".join(f"      {name}={{{bib_value(value)}}}" for name, value in fields)
    return f"@{kind}{{{key or cite_key(paper)},\n{body}\n}}\n"


def bibtex_entries(papers: Iterable[Paper]) -> Iterator[str]:
    """Entries for several papers, streamed, with keys made unique (``key``, ``keyb``, ``keyc``...)."""
    seen: dict[str, int] = {}
    for p in papers:
        key = cite_key(p)
        n = seen.get(key, 0)
        seen[key] = n + 1
        yield bibtex(p, key + ("" if n == 0 else chr(ord("a") + n) if n < 26 else str(n)))


def bibtex_many(papers: Iterable[Paper]) -> str:
    """:func:`bibtex_entries` as one text, entries separated by a blank line."""
    return "\n".join(bibtex_entries(papers))


def _names(paper: Paper) -> str:
    names = paper.author_names
    if len(names) > 3:
        return f"{names[0]} et al."
    return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1] if names else ""


def plain_reference(paper: Paper) -> str:
    """A one-line reference: ``Authors. Title. arXiv:ID [cat], year.`` (or the journal / DOI / link)."""
    parts = [p for p in (_names(paper), paper.title.rstrip(".")) if p]
    year = _year(paper)
    if is_arxiv_id(paper.id):
        where = f"arXiv:{paper.id}" + (f" [{paper.primary_category}]" if paper.primary_category else "")
    else:
        where = paper.journal_ref or (f"doi:{paper.doi}" if paper.doi else safe_url(paper.abs_url) or "")
    tail = ", ".join(x for x in (where, year) if x)
    # One period between parts, even when a part ends with its own ("et al.", "Proc. Conf.").
    return " ".join(p if p.endswith((".", "?", "!")) else p + "." for p in parts + ([tail] if tail else []))

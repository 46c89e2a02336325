"""Plain data objects shared by every layer: papers, ingest rejections, search hits.

No database, web or model imports here, so parsers, the store, search and the web layer can all use them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

MatchReason = Literal["lexical", "semantic", "both"]


@dataclass
class Author:
    """One author, in the order the source lists them."""

    name: str
    affiliations: list[str] = field(default_factory=list)


@dataclass
class Version:
    """One arXiv version (v1, v2, ...) and when it was submitted."""

    version: int
    created: datetime | None = None
    size: str | None = None


@dataclass
class Paper:
    """A paper as Paperfeed knows it, whatever source it came from.

    ``id`` is the arXiv id without version (``2401.01234``, ``hep-th/9901001``) or, for papers with no arXiv
    id, ``pf-`` followed by a hash of the normalised title and abstract (see :mod:`paperfeed.ids`); no arXiv
    id can start with ``pf-``. Datetimes are timezone-aware UTC.
    """

    id: str
    title: str
    abstract: str = ""
    authors: list[Author] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    versions: list[Version] = field(default_factory=list)
    doi: str | None = None
    journal_ref: str | None = None
    comments: str | None = None
    license: str | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    source: str = "unknown"
    first_seen: datetime | None = None
    # The source announced its removal (OAI-PMH ``status="deleted"``): kept, shown as withdrawn.
    withdrawn: bool = False
    # Set by the store only: last time any stored field of this paper changed.
    changed_at: datetime | None = None

    @property
    def latest_version(self) -> int | None:
        return max((v.version for v in self.versions), default=None)

    @property
    def author_names(self) -> list[str]:
        return [a.name for a in self.authors]


@dataclass
class Rejection:
    """A record that could not be ingested, and where it was: ``file`` plus ``line`` or ``record`` index."""

    file: str
    reason: str
    line: int | None = None
    record: int | None = None

    @property
    def location(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}"
        if self.record is not None:
            return f"{self.file}#record {self.record}"
        return self.file

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "record": self.record,
            "location": self.location,
            "reason": self.reason,
        }


@dataclass
class SearchHit:
    """One search or similar-papers result: the paper, its fused score and why it matched.

    ``snippet`` is HTML-safe: the abstract excerpt is escaped and matched terms wrapped in ``<mark>``.
    """

    paper: Paper
    score: float
    reason: MatchReason
    snippet: str = ""
    lexical_rank: int | None = None
    semantic_rank: int | None = None


@dataclass
class SearchResults:
    """A page of hits plus the total number of matches (for pagination)."""

    hits: list[SearchHit]
    total: int
    query: str
    offset: int = 0
    limit: int = 20
    error: str | None = None


@dataclass
class DeletedRecord:
    """A source says this paper was withdrawn or deleted (OAI-PMH ``status="deleted"``).

    Ingest counts it and never removes stored data.
    """

    id: str
    file: str
    record: int | None = None


ParsedItem = Paper | Rejection | DeletedRecord

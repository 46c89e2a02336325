"""Plain data objects shared by every layer: papers, ingest rejections, search hits.

No database, web or model imports here, so parsers, the store, search and the web layer can all use them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Literal

MatchReason = Literal["lexical", "semantic", "both"]
# The one definition of each choice the API, the pages, the feeds and the CLI offer (their OpenAPI enums).
SearchMode = Literal["hybrid", "bm25", "dense"]
SearchSort = Literal["relevance", "date", "trending", "citations"]
SimilarSort = Literal["relevance", "date", "upvotes"]  # similar papers: date and upvotes reorder those shown
DailySort = Literal["publishedAt", "trending", "citations"]
TrendingWindow = Literal["day", "week", "month", "all"]
RelatedReason = Literal["similar abstract", "same authors", "members who saved this also saved"]

# The Paper fields that are one optional string each: stored in a column of the same name, written as is.
OPTIONAL_TEXT_FIELDS = (
    "primary_category",
    "doi",
    "journal_ref",
    "comments",
    "license",
    "abs_url",
    "pdf_url",
    "code_url",
    "project_url",
)


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
    # Set by ingest validation only, never stored: what was dropped from the record ("code_url dropped: ...").
    notes: list[str] = field(default_factory=list, compare=False, repr=False)

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


@dataclass(frozen=True)
class Snippet:
    """An abstract excerpt as data: plain ``text`` (with "… " / " …" where it was cut) and the ``(start, end)``
    character offsets of the query's matches in it, in order and not overlapping.

    Each interface renders it its own way: :meth:`html` for pages and the API (escaped, matches in ``<mark>``;
    Jinja calls ``__html__`` by itself), ``text`` for the CLI and anything else that is not HTML.
    """

    text: str = ""
    marks: tuple[tuple[int, int], ...] = ()

    def html(self) -> str:
        """The excerpt as HTML: the text escaped, each match wrapped in ``<mark>``."""
        out: list[str] = []
        pos = 0
        for start, end in self.marks:
            out.append(escape(self.text[pos:start]))
            out.append(f"<mark>{escape(self.text[start:end])}</mark>")
            pos = end
        out.append(escape(self.text[pos:]))
        return "".join(out)

    def __html__(self) -> str:
        return self.html()

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.text)


@dataclass
class SearchHit:
    """One search or similar-papers result: the paper, its fused score and why it matched.

    ``snippet`` is data (text plus match spans), rendered by each interface: see :class:`Snippet`.
    """

    paper: Paper
    score: float
    reason: MatchReason
    snippet: Snippet = field(default_factory=Snippet)
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
    warning: str | None = None  # what is degraded: vectors being built, damaged index files (never silent)
    # "Did you mean": the query with its misspelled words corrected from the index's vocabulary, or None;
    # ``corrected``: these hits are for the suggestion, because the query as typed matched (almost) nothing.
    suggestion: str | None = None
    corrected: bool = False
    # Nothing found: the other modes (bm25, dense) that do find papers for the same query, with their totals,
    # and a sentence saying so (a meaning-based search that passed nothing names what keywords find).
    other_modes: dict[str, int] = field(default_factory=dict)
    hint: str | None = None


@dataclass
class DeletedRecord:
    """A source says this paper was withdrawn or deleted (OAI-PMH ``status="deleted"``).

    Ingest counts it and never removes stored data.
    """

    id: str
    file: str
    record: int | None = None


ParsedItem = Paper | Rejection | DeletedRecord

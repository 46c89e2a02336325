"""Public JSON shapes: Hugging Face-compatible paper objects and Paperfeed's own ``/api/v1`` models.

The Hugging Face models keep Hugging Face's camelCase field names on purpose (``publishedAt``,
``submittedOnDailyAt``, ``numComments``...), since ``huggingface_hub.HfApi`` parses exactly those. Datetimes
on that side are strings in the Hub's format, ``2024-01-05T18:00:00.000Z``. The ``/api/v1`` models use
Paperfeed's snake_case names and ISO 8601 datetimes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from paperfeed.models import MatchReason, SearchMode, SearchSort, SimilarSort

TEXT_MAX_CHARS = 100_000  # POST /api/v1/similar: a longer body is refused (422); the ranking reads 2,500

# ---------------------------------------------------------------- Hugging Face wire format


def hf_time(value: datetime | None) -> str | None:
    """A datetime as the Hub writes it: UTC, milliseconds, ``Z`` (what ``huggingface_hub`` parses)."""
    if value is None:
        return None
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.") + f"{aware.microsecond // 1000:03d}Z"


class HfAuthor(BaseModel):
    name: str
    hidden: bool = False


class HfUser(BaseModel):
    """A member as the Hub shows a submitter: ``user`` is the username."""

    user: str
    fullname: str
    avatarUrl: str = ""
    type: Literal["user"] = "user"
    isPro: bool = False


class HfPaper(BaseModel):
    """A paper object (``/api/papers/{id}`` and the ``paper`` of a daily entry)."""

    id: str
    title: str
    summary: str
    authors: list[HfAuthor]
    publishedAt: str | None = Field(
        description="the paper's publication date; null when unknown (papers from saved pages, the demo)"
    )
    upvotes: int
    discussionId: str
    submittedOnDailyAt: str | None = None
    submittedOnDailyBy: HfUser | None = None
    projectPage: str | None = None
    githubRepo: str | None = None
    ai_keywords: list[str] = Field(
        default_factory=list,
        description="3 to 8 keyphrases extracted from the title and abstract at index time (empty until computed)",
    )
    numComments: int = 0
    citedByCount: int | None = Field(
        default=None, description="times cited, from OpenAlex (paperfeed citations); null until fetched"
    )


class HfDailyPaper(BaseModel):
    """One entry of ``/api/daily_papers`` and ``/api/papers/search``."""

    paper: HfPaper
    publishedAt: str | None = Field(
        description="when the paper entered the daily list, as on the Hub (for a paper with no known publication "
        "date, the time this instance added it); the paper's own date is paper.publishedAt"
    )
    submittedOnDailyAt: str | None = Field(default=None, description="the same time, under its other name")
    title: str
    summary: str
    thumbnail: str
    numComments: int = 0
    submittedBy: HfUser | None = None
    isAuthorParticipating: bool = False


# ---------------------------------------------------------------- Paperfeed /api/v1


class AuthorOut(BaseModel):
    name: str
    affiliations: list[str] = Field(default_factory=list)


class VersionOut(BaseModel):
    version: int
    created: datetime | None = None


class LinksOut(BaseModel):
    page: str = Field(description="the paper's page on this site")
    markdown: str
    abs: str | None = None
    pdf: str | None = None
    doi: str | None = None
    code: str | None = None
    project: str | None = None


class SubmitterOut(BaseModel):
    username: str
    display_name: str


class PaperOut(BaseModel):
    id: str
    title: str
    abstract: str
    authors: list[AuthorOut]
    categories: list[str]
    primary_category: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    versions: list[VersionOut] = Field(default_factory=list)
    journal_ref: str | None = None
    comments: str | None = None
    license: str | None = None
    withdrawn: bool = False  # the source deleted it (kept here; see docs/ingest.md)
    links: LinksOut
    upvotes: int = 0
    submitted_at: datetime | None = None
    submitted_by: SubmitterOut | None = None


class SearchHitOut(BaseModel):
    paper: PaperOut
    score: float
    reason: MatchReason = Field(description="why it matched: words of the query (lexical), meaning (semantic) or both")
    snippet: str = Field(description="HTML-safe abstract excerpt: text is escaped, matches wrapped in <mark>")
    lexical_rank: int | None = None
    semantic_rank: int | None = None


class SearchOut(BaseModel):
    query: str
    mode: SearchMode
    sort: SearchSort
    categories: list[str]
    date_from: date | None = None
    date_to: date | None = None
    total: int = Field(description="matches in all, for pagination")
    offset: int
    limit: int
    count: int = Field(description="hits on this page")
    data: list[SearchHitOut]
    next: str | None = Field(default=None, description="URL of the next page, if any")
    prev: str | None = None
    warning: str | None = Field(
        default=None,
        description="what is degraded, never silent: meaning-based search still being built ('meaning-based "
        "search: 120 of 341 papers ready'), no model, damaged index files; null when all is well",
    )
    suggestion: str | None = Field(
        default=None,
        description="'did you mean': the query with its misspelled words corrected from the index's vocabulary; "
        "null when none",
    )
    corrected: bool = Field(
        default=False,
        description="true when the results are those of `suggestion`, because the query as typed matched fewer "
        "than 5 papers by its words",
    )


class SimilarHitOut(BaseModel):
    paper: PaperOut
    score: float = Field(description="fused relatedness: higher is closer (not comparable across papers)")
    reason: str = Field(
        description='why it is related: "similar abstract", "same authors", "members who saved this also saved", '
        '"cited together with this paper by N papers" or "shares N references"'
    )
    snippet: str = Field(description="HTML-safe abstract excerpt")


class SimilarOut(BaseModel):
    id: str | None = Field(description="the paper's id; null for papers like a text (POST /api/v1/similar)")
    sort: SimilarSort = Field(default="relevance", description="order of the papers shown (the same papers)")
    count: int
    data: list[SimilarHitOut]
    warning: str | None = Field(default=None, description="the text was cut, or search is degraded")


class SimilarTextIn(BaseModel):
    """Papers like a text: a pasted abstract or any passage, ranked as a paper's similar papers."""

    text: str = Field(
        max_length=TEXT_MAX_CHARS,
        description="the text (a title and abstract); whitespace only is refused; past 2,500 characters it is cut",
    )
    limit: int = Field(default=10, ge=1, le=50, description="papers, 1 to 50")
    sort: SimilarSort = Field(default="relevance", description="relevance, date (newest first) or upvotes")


class OutsideLinksOut(BaseModel):
    doi: str | None = Field(default=None, description="https://doi.org/... when the work has a DOI")
    openalex: str = Field(description="the work's OpenAlex page")


class OutsideWorkOut(BaseModel):
    """A work that is not a paper of this site (from OpenAlex): what lists need to show it."""

    id: None = Field(default=None, description="null: not a paper of this site")
    title: str | None = Field(description="null when OpenAlex gave none")
    year: int | None = None
    doi: str | None = Field(default=None, description="bare DOI, 10.1109/cvpr.2016.90")
    links: OutsideLinksOut


class CitationHitOut(BaseModel):
    paper: PaperOut | OutsideWorkOut = Field(description="a paper of this site, or an outside work (id null)")
    openalex_id: str = Field(description="the work's OpenAlex id, W...")
    cited_by_count: int | None = Field(description="how often OpenAlex counts it cited")
    year: int | None = Field(description="publication year (OpenAlex)")


class CitationListOut(BaseModel):
    id: str
    relation: Literal["references", "citations"]
    openalex_id: str | None = Field(description="this paper's OpenAlex id; null until its citations are fetched")
    cited_by_count: int | None = None
    venue: str | None = Field(default=None, description="where it was published (OpenAlex primary location)")
    total: int = Field(description="works in the whole list, for pagination")
    offset: int
    limit: int
    count: int = Field(description="works on this page")
    data: list[CitationHitOut]
    warning: str | None = Field(default=None, description="set when this paper's citations were not fetched yet")


class VoteOut(BaseModel):
    id: str
    upvotes: int
    voted: bool


class CollectionOut(BaseModel):
    id: int
    name: str
    is_default: bool
    count: int


class LibraryOut(BaseModel):
    collection: CollectionOut | None = Field(default=None, description="the collection listed; null: all")
    collections: list[CollectionOut]
    offset: int
    limit: int
    count: int
    data: list[PaperOut]


class LibraryChangeOut(BaseModel):
    id: str
    saved: bool = Field(description="whether the paper is now in the member's library")
    changed: bool = Field(description="false when the request changed nothing (already saved / not saved)")
    collection: int | None = None


class SubmissionIn(BaseModel):
    """A submission: an arXiv id (fetched from arXiv) or pasted ``title``, ``abstract`` and ``authors``."""

    arxiv: str = Field(default="", max_length=300, description="arXiv id or arxiv.org URL")
    title: str = Field(default="", max_length=2000)
    abstract: str = Field(default="", max_length=60_000)
    authors: list[str] = Field(default_factory=list, max_length=2000)
    url: str = Field(default="", max_length=2000, description="project page")
    code_url: str = Field(default="", max_length=2000)


class SubmissionOut(BaseModel):
    id: str
    created: bool = Field(description="false when the paper had already been submitted")
    submitted_at: datetime
    submitted_by: str | None
    paper: PaperOut

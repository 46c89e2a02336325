"""The search query language, parsed into a plain structure that no engine syntax ever sees raw.

    graph neural "message passing" -survey author:"Yann LeCun" cat:cs.LG year:2023 sort:date

- plain words are scored (any may match; more and rarer matches rank higher);
- ``"exact phrase"`` must appear in the title or abstract, ``-word`` / ``-"a phrase"`` must not;
- ``author:name`` / ``author:"full name"`` must match an author (every author: given must);
- ``cat:cs.CL`` keeps papers in that category (``cat:cs`` = any cs.* category; several cat: = any of them);
- ``year:2023``, ``year:2019-2021``, ``from:2023-01-01``, ``to:2023-06-30`` (``from:2023`` / ``to:2023-06``
  also work) filter on the publication date, or the date Paperfeed first saw the paper when unknown;
- ``sort:relevance|date|trending|citations``.

Anything else (``AND``, ``*``, ``(``, ``^``, ``:``, SQL) is just text: it is tokenised into words like any
other input. Values that cannot be read (``year:abc``, ``from:2023-13-01``, ``sort:foo``) raise
:class:`QueryError` with a message saying what was expected.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date

from paperfeed.search.analyze import analyse, analyse_name

MAX_QUERY_CHARS = 1000
MAX_CLAUSES = 64
SORTS = ("relevance", "date", "trending", "citations")
FIELDS = ("author", "cat", "year", "from", "to", "sort")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CAT = re.compile(r"^[A-Za-z][A-Za-z0-9-]*(\.[A-Za-z0-9-]+)?$")
_YEAR = re.compile(r"^(\d{4})(?:-(\d{4}))?$")
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$")
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})


class QueryError(ValueError):
    """A query that cannot be understood; the message says which part and what was expected."""


@dataclass
class ParsedQuery:
    """A query split into its parts. ``words`` and ``phrases`` keep the user's text (for embedding and
    display); engines analyse them with :mod:`paperfeed.search.analyze`."""

    raw: str = ""
    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # words and phrases that must not appear
    authors: list[str] = field(default_factory=list)
    # Other spellings of each ``authors`` entry that stand for the same person (initials, when unambiguous),
    # as name keys; filled by the searcher from the store (paperfeed.authors.group_keys).
    author_variants: dict[str, list[str]] = field(default_factory=dict)
    categories: list[str] = field(default_factory=list)
    date_from: date | None = None
    date_to: date | None = None
    sort: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The free text of the query (words and phrases), what a dense model embeds."""
        return " ".join(self.words + self.phrases)

    @property
    def scored_terms(self) -> list[str]:
        """Distinct analysed terms of the words and phrases: what BM25 scores and snippets highlight."""
        return list(dict.fromkeys(analyse(self.text)))

    @property
    def has_constraints(self) -> bool:
        """True when some part must (or must not) hold, beyond scoring."""
        return bool(self.phrases or self.excluded or self.authors or self.categories or self.date_from or self.date_to)

    @property
    def is_empty(self) -> bool:
        """Nothing to search for and nothing to filter on."""
        return not (self.scored_terms or self.has_constraints)


def parse_query(raw: str) -> ParsedQuery:
    """Parse user input into a :class:`ParsedQuery`; never raises on odd text, only on bad field values."""
    text = _CONTROL.sub(" ", raw or "").translate(_QUOTES)
    out = ParsedQuery(raw=text)
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS]
        out.warnings.append(f"query truncated to its first {MAX_QUERY_CHARS} characters")
    clauses = list(_clauses(text))
    if len(clauses) > MAX_CLAUSES:
        clauses = clauses[:MAX_CLAUSES]
        out.warnings.append(f"only the first {MAX_CLAUSES} words of the query were used")
    for negated, name, value, quoted in clauses:
        _apply(out, negated, name, value, quoted)
    if out.date_from and out.date_to and out.date_from > out.date_to:
        raise QueryError(f"the date range is empty: from {out.date_from} is after to {out.date_to}")
    return out


def add_filters(
    query: ParsedQuery,
    *,
    categories: list[str] | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> ParsedQuery:
    """Fold filters given beside the query (web form fields, API parameters) into it, as if typed.

    Categories are checked like ``cat:`` values; dates narrow the range. Raises :class:`QueryError`."""
    for cat in categories or []:
        cat = (cat or "").strip()
        if cat:
            if not _CAT.match(cat):
                raise QueryError(f"category must be an arXiv category such as cs.CL or cs, got {cat[:64]!r}")
            query.categories.append(cat)
    if date_from is not None:
        query.date_from = _later(query.date_from, date_from)
    if date_to is not None:
        query.date_to = _earlier(query.date_to, date_to)
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise QueryError(f"the date range is empty: from {query.date_from} is after to {query.date_to}")
    return query


def _clauses(text: str) -> list[tuple[bool, str | None, str, bool]]:
    """``(negated, field or None, value, quoted)`` for each clause, reading quotes and ``field:`` prefixes.

    An unbalanced quote runs to the end of the input."""
    out: list[tuple[bool, str | None, str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        negated = text[i] == "-" and i + 1 < n and not text[i + 1].isspace()
        if negated:
            i += 1
        name: str | None = None
        m = re.match(r"([A-Za-z]+):(?=\S)", text[i:])
        if m and m.group(1).lower() in FIELDS:
            name = m.group(1).lower()
            i += m.end()
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            out.append((negated, name, text[i + 1 : end], True))
            i = end + 1
            continue
        j = i
        while j < n and not text[j].isspace():
            j += 1
        out.append((negated, name, text[i:j], False))
        i = j
    return out


def _apply(out: ParsedQuery, negated: bool, name: str | None, value: str, quoted: bool) -> None:
    value = value.strip()
    if not value:
        return
    if name is None:
        if negated:
            if analyse(value):
                out.excluded.append(value)
        elif quoted and len(analyse(value)) > 1:
            out.phrases.append(value)
        else:
            out.words.append(value)
        return
    if negated:
        out.warnings.append(f"'-{name}:' is not supported; the clause was ignored")
        return
    if name == "author":
        if analyse_name(value):
            out.authors.append(value)
    elif name == "cat":
        if not _CAT.match(value):
            raise QueryError(f"cat: expects an arXiv category such as cs.CL or cs, got {value!r}")
        out.categories.append(value)
    elif name == "year":
        _apply_year(out, value)
    elif name in ("from", "to"):
        _apply_date(out, name, value)
    elif name == "sort":
        if value.lower() not in SORTS:
            raise QueryError(f"sort: expects one of {', '.join(SORTS)}, got {value!r}")
        out.sort = value.lower()


def _apply_year(out: ParsedQuery, value: str) -> None:
    m = _YEAR.match(value)
    if not m:
        raise QueryError(f"year: expects a year such as 2023 or a range such as 2019-2021, got {value!r}")
    first, last = int(m.group(1)), int(m.group(2) or m.group(1))
    if first > last or first < 1000:
        raise QueryError(f"year: {value!r} is not a valid year range")
    out.date_from = _later(out.date_from, date(first, 1, 1))
    out.date_to = _earlier(out.date_to, date(last, 12, 31))


def _apply_date(out: ParsedQuery, name: str, value: str) -> None:
    m = _DATE.match(value)
    if not m:
        raise QueryError(f"{name}: expects a date such as 2023-01-31, 2023-01 or 2023, got {value!r}")
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    try:
        if name == "from":
            when = date(year, int(month or 1), int(day or 1))
            out.date_from = _later(out.date_from, when)
        else:
            mon = int(month or 12)
            last_day = calendar.monthrange(year, mon)[1] if 1 <= mon <= 12 else 0
            when = date(year, mon, int(day or last_day))
            out.date_to = _earlier(out.date_to, when)
    except ValueError as exc:
        raise QueryError(f"{name}: {value!r} is not a valid date ({exc})") from None


def _later(a: date | None, b: date) -> date:
    return b if a is None or b > a else a


def _earlier(a: date | None, b: date) -> date:
    return b if a is None or b < a else a

"""Engine queries for the lexical index, built from term objects (never tantivy's query parser).

``build(schema, query)`` turns a :class:`~paperfeed.search.query.ParsedQuery` into one tantivy query: at
least one word must match (BM25 over title, abstract and author names, each field with its own weight),
and every constraint must hold (phrases, exclusions, authors, categories, dates). ``constraints`` gives the
constraints alone (the filter that semantic candidates are searched within).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import date, datetime

import tantivy

from paperfeed.search.analyze import STOP_WORDS, analyse, analyse_name, words
from paperfeed.search.query import ParsedQuery

# Field weights, tuned on SciFact train only (docs/decisions.md, "Lexical ranking"). The "abstract" field is the
# body (title + abstract); the title field adds a little weight to title words. Each field is scored with
# its own BM25 (own length normalisation).
TITLE_BOOST = 0.3
ABSTRACT_BOOST = 1.0
AUTHOR_BOOST = 0.5
_BOTH = tantivy.Occur.Should
_MUST = tantivy.Occur.Must
_NOT = tantivy.Occur.MustNot
Clause = tuple[tantivy.Occur, tantivy.Query]


def date_key(d: date | datetime | None) -> int:
    """A date as the integer ``yyyymmdd`` the index stores (0: unknown)."""
    return 0 if d is None else d.year * 10000 + d.month * 100 + d.day


def _term(schema: tantivy.Schema, name: str, term: str) -> tantivy.Query:
    return tantivy.Query.term_query(schema, name, term)


def _text(schema: tantivy.Schema, terms: list[str], fields: tuple[str, ...]) -> tantivy.Query:
    """Terms as a phrase (or a single term) in any of ``fields``."""
    subs = []
    phrase: list[str | tuple[int, str]] = list(terms)
    for name in fields:
        q = _term(schema, name, terms[0]) if len(terms) == 1 else tantivy.Query.phrase_query(schema, name, phrase)
        subs.append((_BOTH, q))
    return subs[0][1] if len(subs) == 1 else tantivy.Query.boolean_query(subs)


def scored(schema: tantivy.Schema, query: ParsedQuery) -> list[Clause]:
    """One optional clause per query term and field, weighted by the field's boost times the number of
    times the term occurs in the query (BM25's query term frequency, as Lucene and bm25s count it: a long
    question that keeps returning to one word is about that word)."""
    subs = []
    for t, n in Counter(analyse(query.text)).items():
        subs.append((_BOTH, tantivy.Query.boost_query(_term(schema, "title", t), TITLE_BOOST * n)))
        subs.append((_BOTH, tantivy.Query.boost_query(_term(schema, "abstract", t), ABSTRACT_BOOST * n)))
    names = [w for w in dict.fromkeys(words(query.text)) if w not in STOP_WORDS]
    for w in names:
        subs.append((_BOTH, tantivy.Query.boost_query(_term(schema, "authors", w), AUTHOR_BOOST)))
    return subs


def constraints(schema: tantivy.Schema, query: ParsedQuery) -> list[Clause]:
    """The query's rules: phrases, exclusions, authors, categories (any of them), dates."""
    must: list[Clause] = []
    for phrase in query.phrases:
        must.append((_MUST, _text(schema, analyse(phrase), ("title", "abstract"))))
    for text in query.excluded:
        terms = analyse(text)
        if terms:
            must.append((_NOT, _text(schema, terms, ("title", "abstract"))))
    for name in query.authors:
        spellings = [analyse_name(name)] + [k.split() for k in query.author_variants.get(name, [])]
        options = [_text(schema, terms, ("authors",)) for terms in spellings if terms]
        if len(options) > 1:  # the same person under another spelling (initials) counts too
            must.append((_MUST, tantivy.Query.boolean_query([(_BOTH, q) for q in options])))
        else:
            must.append((_MUST, _text(schema, analyse_name(name), ("authors",))))
    cats = [c.strip().lower() for c in query.categories if c.strip()]
    if cats:  # any of them; "cs" matches every cs.* paper (see lexical._category_terms)
        must.append((_MUST, tantivy.Query.term_set_query(schema, "cat", cats)))
    if query.date_from or query.date_to:
        lo = date_key(query.date_from) if query.date_from else None
        hi = date_key(query.date_to) if query.date_to else None
        must.append((_MUST, tantivy.Query.range_query(schema, "date", tantivy.FieldType.Integer, lo, hi, True, True)))
    return must


def build(
    schema: tantivy.Schema, query: ParsedQuery, *, allowed: Collection[str] | None = None, words_needed: bool = True
) -> tantivy.Query | None:
    """The engine query for ``query``, or None when it can match nothing.

    At least one word must match (any of them: BM25 ranks documents matching more and rarer words
    higher; not ``words_needed``: the constraints alone), and every constraint must hold."""
    if allowed is not None and not allowed:
        return None
    subs = constraints(schema, query)
    terms = scored(schema, query) if words_needed else []
    if terms:
        subs.append((_MUST, tantivy.Query.boolean_query(terms)))
    if allowed is not None:
        subs.append((_MUST, tantivy.Query.term_set_query(schema, "id", list(allowed))))
    if not subs:
        return None
    if all(occ == _NOT for occ, _ in subs):
        subs.append((_MUST, tantivy.Query.all_query()))
    return tantivy.Query.boolean_query(subs)

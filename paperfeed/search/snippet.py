"""Snippets: the part of an abstract where the query's terms cluster, as data (:class:`~paperfeed.models.Snippet`:
plain text plus the spans of the matches). Pages and the API render it as HTML with ``<mark>``, the CLI as text.

Matching is by stem (:mod:`paperfeed.search.analyze`), so "networks" in the abstract is marked for the query
word "network", exactly as the lexical index matched it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from paperfeed.models import Snippet
from paperfeed.search.analyze import MAX_TOKEN_LEN, STOP_WORDS, fold, stem

_TOKEN = re.compile(r"[^\W_]+")  # the analyzer's tokens (analyze._TOKEN)

DEFAULT_CHARS = 240


def snippet(text: str, terms: Iterable[str], *, max_chars: int = DEFAULT_CHARS) -> Snippet:
    """An excerpt of ``text`` of about ``max_chars`` around the densest run of ``terms`` (stems), with the
    matches' spans. With no match, the start of the text; with no text, an empty snippet."""
    text = " ".join((text or "").split())
    if not text:
        return Snippet()
    wanted = set(terms)
    hits = _spans(text, frozenset(wanted)) if wanted else []
    start = _best_window(hits, len(text), max_chars)
    end = min(len(text), start + max_chars)
    start, end = _on_word_boundaries(text, start, end)
    lead = "\u2026 " if start > 0 else ""
    shift = len(lead) - start
    marks = tuple((s + shift, e + shift) for s, e in hits if s >= start and e <= end)
    return Snippet(lead + text[start:end] + (" \u2026" if end < len(text) else ""), marks)


def _spans(text: str, wanted: frozenset[str]) -> list[tuple[int, int]]:
    """Spans of the tokens of ``text`` whose term is one of ``wanted``, in order.

    Only tokens that can have such a term are stemmed. In ASCII text (nearly every abstract) they are found
    with ``str.find`` on the lower-cased text: a term is its token less the last letter or so (the English
    stemmer rewrites endings only: ``using`` -> ``use``, ``study`` -> ``studi``), so a matching token begins
    with the term less its last letter (:func:`_prefixes`). Elsewhere a regular expression finds the tokens
    beginning with a term's first letter. Both checked against stemming every token of the evaluation
    corpora (tests/test_snippets.py); they cut a results page's snippets from 2.0 to about 0.4 ms of CPU."""
    if not text.isascii():
        return [(m.start(), m.end()) for m in _candidates(wanted).finditer(text) if _term(m.group()) in wanted]
    low = text.lower()  # same length as ``text``: ASCII
    found: set[tuple[int, int]] = set()
    for prefix in _prefixes(wanted):
        at = low.find(prefix)
        while at != -1:
            if at and low[at - 1].isalnum():  # inside a token: not its start
                at = low.find(prefix, at + 1)
                continue
            token = _TOKEN.match(low, at)  # the whole token (None: a prefix that is no token's start)
            end = token.end() if token else at + 1
            if token and _term(text[at:end]) in wanted:
                found.add((at, end))
            at = low.find(prefix, end)
    return sorted(found)


# The English stemmer's exceptional forms whose term does not begin with the word less one letter.
_EXCEPTIONS = {"die": "dy", "lie": "ly", "tie": "ty"}  # dying, lying, tying


@lru_cache(maxsize=1024)
def _prefixes(wanted: frozenset[str]) -> tuple[str, ...]:
    """What every ASCII token whose term is one of ``wanted`` begins with (lower case): the term less its
    last letter, and the stemmer's exceptions; a prefix that begins with another is left out."""
    starts = {term[:-1] or term for term in wanted if term}
    starts |= {_EXCEPTIONS[term] for term in wanted if term in _EXCEPTIONS}
    return tuple(p for p in sorted(starts) if not any(p != q and p.startswith(q) for q in starts))


@lru_cache(maxsize=1024)
def _candidates(wanted: frozenset[str]) -> re.Pattern[str]:
    """Whole tokens (maximal runs of letters and digits, as ``_TOKEN``) that begin with the first character
    of one of ``wanted``, in either case, or with a letter or digit outside ASCII (folded before stemming)."""
    firsts = "".join(sorted({re.escape(term[0]) for term in wanted if term}))
    start = f"[{firsts}]|[^\\x00-\\x7f]" if firsts else "[^\\x00-\\x7f]"
    return re.compile(f"(?<![^\\W_])(?=[^\\W_])(?:{start})[^\\W_]*", re.IGNORECASE)


@lru_cache(maxsize=200_000)
def _term(token: str) -> str | None:
    """The index term of one raw token (as :func:`paperfeed.search.analyze.analyse` makes it), or None for a
    stop word. Cached: snippets of a results page re-read the same common words many times."""
    folded = token.lower() if token.isascii() else fold(token)
    if folded in STOP_WORDS or len(folded) > MAX_TOKEN_LEN:
        return None
    return stem(folded)


def _best_window(hits: list[tuple[int, int]], length: int, width: int) -> int:
    """Start offset of the ``width``-character window holding the most hits (a little context before)."""
    if not hits or length <= width:
        return 0
    best_start, best_count = 0, -1
    j = 0
    for i, (s, _) in enumerate(hits):
        while j < len(hits) and hits[j][1] <= s + width:
            j += 1
        if j - i > best_count:
            best_start, best_count = s, j - i
    return max(0, min(best_start - width // 6, length - width))


def _on_word_boundaries(text: str, start: int, end: int) -> tuple[int, int]:
    if start > 0:
        space = text.find(" ", start)
        if space != -1 and space < end:
            start = space + 1
    if end < len(text):
        space = text.rfind(" ", start, end)
        if space > start:
            end = space
    return start, end

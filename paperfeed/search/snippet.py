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
    """Spans of the tokens of ``text`` whose term is one of ``wanted``: the distinct tokens are looked up once
    each, then only the matching ones are found again with ``str.find`` (the text is never walked token by
    token in Python: that was most of a results page's CPU)."""
    matching = {t for t in set(_TOKEN.findall(text)) if _term(t) in wanted}
    spans: list[tuple[int, int]] = []
    end = len(text)
    for token in matching:
        at = text.find(token)
        while at != -1:
            after = at + len(token)
            # a whole token: a maximal run of letters and digits (the characters of _TOKEN)
            if (at == 0 or not text[at - 1].isalnum()) and (after == end or not text[after].isalnum()):
                spans.append((at, after))
            at = text.find(token, after)
    spans.sort()
    return spans


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

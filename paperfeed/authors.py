"""Author names: one normalisation for author pages, claims and ``author:`` search.

A name's *key* is its folded words joined by single spaces: case and accents folded, punctuation and runs of
whitespace dropped (``"Yann  LeCun"``, ``"yann lecun"`` and ``"Yánn LeCun"`` share ``yann lecun``; ``"J.-P.
Dupont"`` is ``j p dupont``). The words (:func:`paperfeed.text.words`) are exactly the author terms of the
search index, so an author page and ``author:"..."`` find the same papers.

Initials join a full name only when that is unambiguous: ``Y. LeCun`` (key ``y lecun``) is grouped with
``Yann LeCun`` when, among the names stored with the surname ``lecun``, exactly one full name has given names
starting with those initials (same number of given names). With two candidates (``Yann LeCun`` and ``Yves
LeCun``) the initials stay a separate author.
"""

from __future__ import annotations

from collections.abc import Iterable

from paperfeed.text import words

MAX_KEY = 300


def author_key(name: str) -> str:
    """The normalised form of an author name (``""`` for a name with no letters or digits)."""
    return " ".join(words(name))[:MAX_KEY]


def surname_key(key: str) -> str:
    """The last word of a key (the family name as arXiv lists names: given names first)."""
    return key.rsplit(" ", 1)[-1] if key else ""


def is_initials(key: str) -> bool:
    """True when every given name of ``key`` is a single letter (``y lecun``, ``j p dupont``)."""
    parts = key.split()
    return len(parts) > 1 and all(len(p) == 1 for p in parts[:-1])


def initials_match(short: str, full: str) -> bool:
    """``short`` (initials) abbreviates ``full``: same surname, same number of given names, same first letters."""
    a, b = short.split(), full.split()
    if len(a) != len(b) or len(a) < 2 or a[-1] != b[-1] or is_initials(full):
        return False
    return all(x == y[0] for x, y in zip(a[:-1], b[:-1], strict=True))


def group_keys(key: str, same_surname: Iterable[str]) -> list[str]:
    """Every key that stands for the same author as ``key``, ``key`` first.

    ``same_surname``: the distinct keys stored with the same surname. Initials join their full name only when
    exactly one full name matches them (see the module docstring).
    """
    known = set(same_surname) | {key}
    fulls = [k for k in known if not is_initials(k)]
    group = [key]
    if is_initials(key):
        matches = [k for k in fulls if initials_match(key, k)]
        if len(matches) == 1:
            key = matches[0]
            group.append(key)
    if not is_initials(key):
        for short in sorted(k for k in known if is_initials(k) and k not in group):
            if [k for k in fulls if initials_match(short, k)] == [key]:
                group.append(short)
    return group


def canonical_key(key: str, same_surname: Iterable[str]) -> str:
    """The full-name key an (unambiguous) initials key stands for, else ``key`` itself."""
    group = group_keys(key, same_surname)
    full = [k for k in group if not is_initials(k)]
    return full[0] if full else key

"""Invisible and direction-changing characters in what members write: bidi overrides and isolates
(U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C) and zero-width characters (U+200B, U+2060, U+FEFF,
U+180E) can make a name, a comment or a digest topic read differently from what it is (``gnp.exe`` shown
as ``exe.png``). Names, comments and subscription topics refuse them; mail headers drop them.

The zero-width joiner and non-joiner (U+200C, U+200D) are allowed: emoji sequences and Persian or Indic
scripts need them.
"""

from __future__ import annotations

import re

INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u200b\u2060\ufeff\u180e]")


def invisible_problem(text: str, what: str) -> str | None:
    """Why ``text`` is refused (naming the first such character and ``what`` it is), or None."""
    found = INVISIBLE.search(text)
    if found is None:
        return None
    return (
        f"{what} contains invisible or direction-changing characters (U+{ord(found.group()):04X} at "
        f"character {found.start() + 1}); remove them"
    )


def without_invisible(text: str) -> str:
    """``text`` with those characters removed (for values nobody can be asked to correct, like headers)."""
    return INVISIBLE.sub("", text)

"""Text utilities every layer shares (below ``store/``, ``ingest/`` and ``search/``; see docs/architecture.md).

- Words: :func:`fold` (case and accents) and :func:`words` (letters-and-digits tokens) with the English
  :data:`STOP_WORDS`. The search index stems these words (``paperfeed/search/analyze.py``); author keys,
  keyphrases and collection slugs use them as they are, so all agree on what a word is.
- LaTeX accents: :func:`latex_accents` (``Bal\\'azs`` -> ``Balázs``) and :func:`title_key`, a title as
  compared for an exact match.
- Invisible characters: :func:`invisible_problem` and :func:`without_invisible`. Bidi overrides and isolates
  (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C) and zero-width characters (U+200B, U+2060, U+FEFF,
  U+180E) can make a name, a comment or a digest topic read differently from what it is (``gnp.exe`` shown
  as ``exe.png``). Names, comments and subscription topics refuse them; mail headers drop them. The
  zero-width joiner and non-joiner (U+200C, U+200D) are allowed: emoji sequences and Persian or Indic
  scripts need them.
"""

from __future__ import annotations

import re
import unicodedata

from paperfeed.ids import normalise_title

# Lucene's English stop words (also bm25s's): short, so topical words like "model" or "cell" still count.
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)
TOKEN = re.compile(r"[^\W_]+")
# ASCII text (nearly all of it once folded) is cut by turning every byte but a letter or digit into a space and
# splitting: the same tokens as TOKEN (on ASCII, [^\W_] is exactly str.isalnum), about 3x faster.
_ASCII_GAPS = bytes(c if chr(c).isalnum() else 32 for c in range(256))
MAX_TOKEN_LEN = 40


def fold(text: str) -> str:
    """Lower case without accents: ``Ångström`` -> ``angstrom``."""
    if text.isascii():  # fast path, same result: nothing to decompose or strip
        return text.casefold()
    text = unicodedata.normalize("NFKD", text)
    if text.isascii():
        return text.casefold()
    return "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()


def tokens(folded: str) -> list[str]:
    """Runs of letters and digits (``TOKEN``), through the fast path when the text is ASCII."""
    if folded.isascii():
        return folded.encode("ascii").translate(_ASCII_GAPS).decode("ascii").split()
    return TOKEN.findall(folded)


def words(text: str) -> list[str]:
    """Folded word tokens (letters and digits), stop words kept, over-long tokens dropped."""
    return [t for t in tokens(fold(text)) if len(t) <= MAX_TOKEN_LEN]


_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
}
_LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "aa": "å",
    "AA": "Å",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
}
# {\"o}, \"o, \"{o}, \'{\i}, \c{c}, \v s ; and letter macros {\ss}, \o{}, {\aa}
_ACCENT_RE = re.compile(r"\{?\\(['`^\"~=.]|[uvHckr](?=[\s{]))\s*\{?\s*(\\[ij](?![a-zA-Z])|[A-Za-z])\s*\}?\}?")
_LETTER_RE = re.compile(r"\{?\\(ss|aa|AA|ae|AE|oe|OE|o|O|l|L)(?![a-zA-Z])\s*(?:\{\})?\}?")


def _accent(m: re.Match[str]) -> str:
    base = m.group(2)
    base = {"\\i": "i", "\\j": "j"}.get(base, base)
    return unicodedata.normalize("NFC", base + _ACCENTS[m.group(1)])


def latex_accents(text: str) -> str:
    """Replace LaTeX accent macros (``Bal\\'azs``, ``{\\"o}``, ``\\c{c}``, ``{\\ss}``) by Unicode letters.

    Only accents: math and other macros are left as the source wrote them. Cheap when there is no
    backslash, which is the common case on the hot Kaggle path.
    """
    if "\\" not in text:
        return text
    text = _ACCENT_RE.sub(_accent, text)
    return _LETTER_RE.sub(lambda m: _LETTERS[m.group(1)], text)


def title_key(title: str) -> str:
    """A title as compared for an exact match (``paperfeed enrich``): LaTeX accents decoded and BibTeX case
    braces dropped (``2{D}`` is ``2D``), then case, accents, macros and punctuation dropped, whitespace
    collapsed."""
    return normalise_title(latex_accents(title).replace("{", "").replace("}", ""))


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

"""Paper identity: arXiv id parsing, the stable id of papers that have none, and arXiv category names.

Merging relies on two keys: the arXiv id (without version) and, failing that, a normalised title.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

# New-style (0704.0001 onward) and old-style (hep-th/9901001, math.GT/0309136) identifiers, optional version.
_NEW = r"\d{4}\.\d{4,5}"
_OLD = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
ARXIV_ID_RE = re.compile(rf"^(?P<id>{_NEW}|{_OLD})(?:v(?P<version>\d+))?$")
_ARXIV_IN_TEXT = re.compile(
    rf"(?:arxiv\.org/(?:abs|pdf|html)/|arxiv:\s*|^)(?P<id>{_NEW}|{_OLD})(?:v(?P<version>\d+))?(?:\.pdf)?",
    re.IGNORECASE,
)
DERIVED_PREFIX = "pf-"


def split_arxiv_id(raw: str) -> tuple[str, int | None] | None:
    """``'2401.01234v2'`` -> ``('2401.01234', 2)``; also accepts abs/pdf URLs and ``arXiv:`` prefixes.

    Returns None when ``raw`` holds no arXiv identifier.
    """
    text = raw.strip()
    m = ARXIV_ID_RE.match(text)
    if m is None:
        m = _ARXIV_IN_TEXT.search(text)
        if m is None:
            return None
    version = m.group("version")
    return m.group("id"), int(version) if version else None


_BARE_ID_RE = re.compile(rf"^(?:{_NEW}|{_OLD})$")


def is_arxiv_id(paper_id: str) -> bool:
    """True for a version-less arXiv id such as ``2401.01234`` or ``hep-th/9901001``."""
    return _BARE_ID_RE.match(paper_id) is not None


_LATEX_CMD = re.compile(r"\\[a-zA-Z]+\*?|[{}$^_~\\]")
_NON_WORD = re.compile(r"[^\w]+")


@lru_cache(maxsize=16_384)
def normalise_title(title: str) -> str:
    """Key used to match the same paper from two sources: case, accents, LaTeX and punctuation removed.

    Cached, with a fast path for ASCII titles (NFKD and accent stripping are no-ops there): one upsert
    keys each incoming title several times (collapse, match, row)."""
    if title.isascii():
        return " ".join(_NON_WORD.sub(" ", _LATEX_CMD.sub(" ", title).casefold()).split())
    text = unicodedata.normalize("NFKD", title)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _LATEX_CMD.sub(" ", text).casefold()
    return " ".join(_NON_WORD.sub(" ", text).split())


def derived_id(title: str, abstract: str = "") -> str:
    """Stable id for a paper without an arXiv id: hash of normalised title and abstract, prefixed ``pf-``."""
    key = normalise_title(title) + "\n" + normalise_title(abstract)
    return DERIVED_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def abs_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/abs/{arxiv_id}"


def pdf_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/pdf/{arxiv_id}"


# arXiv archives and categories (what PAPERFEED_FOLLOW names; ingest/arxiv_sets.py maps them to OAI-PMH sets).
TOP_ARCHIVES = ("cs", "econ", "eess", "math", "nlin", "q-bio", "q-fin", "stat")
PHYSICS_ARCHIVES = (
    "astro-ph",
    "cond-mat",
    "gr-qc",
    "hep-ex",
    "hep-lat",
    "hep-ph",
    "hep-th",
    "math-ph",
    "nucl-ex",
    "nucl-th",
    "physics",
    "quant-ph",
)
_CATEGORY_RE = re.compile(r"^([a-z][a-z-]*)(?:\.([A-Za-z][A-Za-z-]*))?$")


def parse_follow(text: str) -> list[str]:
    """``"cs.LG, cs.CL"`` -> ``["cs.LG", "cs.CL"]`` (duplicates dropped); ValueError naming a bad entry."""
    out: list[str] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        m = _CATEGORY_RE.match(item)
        archive = m.group(1) if m else ""
        if archive not in TOP_ARCHIVES and archive not in PHYSICS_ARCHIVES:
            raise ValueError(f"{item[:60]!r} is not an arXiv category or archive (e.g. cs.LG, math.AG, hep-th, stat)")
        if item.lower() not in {c.lower() for c in out}:
            out.append(item)
    return out

"""arXiv categories to follow, and the OAI-PMH set each is harvested from.

arXiv's OAI-PMH interface offers one set per archive (``cs``, ``math``, ``stat``...; the physics archives as
``physics:hep-th``, ``physics:astro-ph``...), not per category, so following ``cs.LG`` harvests set ``cs``
and keeps the papers listed in ``cs.LG`` (primary or cross-list). Following a bare archive (``math``) keeps
all of it. No settings or network here: :mod:`paperfeed.config` validates ``PAPERFEED_FOLLOW`` with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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


def oai_set(category: str) -> str:
    """The OAI-PMH set a category is harvested from: ``cs.LG`` -> ``cs``, ``hep-th`` -> ``physics:hep-th``."""
    archive = category.split(".", 1)[0]
    return f"physics:{archive}" if archive in PHYSICS_ARCHIVES else archive


def sets_for(categories: Iterable[str]) -> dict[str, list[str]]:
    """Followed categories grouped by the set that carries them, in order of first mention."""
    groups: dict[str, list[str]] = {}
    for cat in categories:
        groups.setdefault(oai_set(cat), []).append(cat)
    return groups


def in_followed(paper_categories: Iterable[str], followed: Iterable[str]) -> bool:
    """True when any of a paper's categories is followed (exactly, or by following its whole archive)."""
    wanted = [f.lower() for f in followed]
    for cat in paper_categories:
        c = cat.lower()
        for f in wanted:
            if c == f or ("." not in f and c.startswith(f + ".")):
                return True
    return False

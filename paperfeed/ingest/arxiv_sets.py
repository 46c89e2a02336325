"""arXiv categories to follow, and the OAI-PMH set each is harvested from.

arXiv's OAI-PMH interface offers one set per archive (``cs``, ``math``, ``stat``...; the physics archives as
``physics:hep-th``, ``physics:astro-ph``...), not per category, so following ``cs.LG`` harvests set ``cs``
and keeps the papers listed in ``cs.LG`` (primary or cross-list). Following a bare archive (``math``) keeps
all of it. The category names themselves (:func:`paperfeed.ids.parse_follow`) are base knowledge:
:mod:`paperfeed.config` validates ``PAPERFEED_FOLLOW`` with them.
"""

from __future__ import annotations

from collections.abc import Iterable

from paperfeed.ids import PHYSICS_ARCHIVES, TOP_ARCHIVES, parse_follow

# parse_follow: still imported from here by cli/status_cmds.py and web/status_page.py
__all__ = ["PHYSICS_ARCHIVES", "TOP_ARCHIVES", "in_followed", "oai_set", "parse_follow", "sets_for"]


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

""" "Shares keywords X, Y": the keyphrases (paperfeed/keywords.py) a recommendation has in common with the
library paper it is closest to, or with the library as a whole, added to its "for you" reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection

from paperfeed.search.analyze import fold
from paperfeed.store.keywords import keywords_for

MAX_SHOWN = 2


def shared_keywords(mine: Sequence[str], theirs: Sequence[str]) -> list[str]:
    """Phrases of ``mine`` that ``theirs`` also has (case and accents folded), at most :data:`MAX_SHOWN`."""
    other = {fold(k) for k in theirs}
    return [k for k in mine if fold(k) in other][:MAX_SHOWN]


def add_keyword_reasons(
    *, conn: Connection, ids: Sequence[str], reasons: dict[str, str], because: Mapping[str, str], seeds: Sequence[str]
) -> None:
    """Append "; shares keywords X, Y" to the reason of each of ``ids`` that shares keyphrases."""
    phrases = keywords_for(conn=conn, ids=[*ids, *seeds])
    library = [k for s in seeds for k in phrases.get(s, [])]
    for pid in ids:
        seed = because.get(pid)
        shared = shared_keywords(phrases.get(pid, []), phrases.get(seed, []) if seed else library)
        if shared and pid in reasons:
            reasons[pid] += "; shares keywords " + ", ".join(shared)

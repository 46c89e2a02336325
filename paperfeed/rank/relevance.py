"""When a related paper is too weak to show (no padding).

The dense side reuses search's calibrated rule (:func:`paperfeed.search.relevance.plausible`: the cosine a
meaning-only match needs under the model). Lexically, a candidate counts when BM25 of the paper's
discriminative words scores it at least ``LEXICAL_FLOOR`` of the paper's own score; calibrated on
cacm-cites (docs/decisions.md, "Related papers"). Without an embedding, only the lexical test applies.
"""

from __future__ import annotations

from paperfeed.search.relevance import plausible

LEXICAL_FLOOR = 0.15


def strong_enough(*, lexical: float, dense: float | None, model: str | None = None) -> bool:
    """True when the candidate's text is similar enough to show."""
    if dense is not None and plausible(dense, model=model):
        return True
    return lexical >= LEXICAL_FLOOR

"""Nonsense finds nothing whatever model serves meaning-based search (issue 12, item 1).

In a fresh instance's first minutes the interim static model (made from MiniLM's token table) answers
dense and hybrid searches. Its cosine similarities cannot tell gibberish from a real query, so the relevance
rule also needs a word the index knows (paperfeed/search/relevance.py, ``knows_a_word``).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.search import hybrid
from paperfeed.search.embed import EMBEDDERS_AVAILABLE
from paperfeed.search.query import parse_query
from tests.searchers import interim_static_searcher
from tests.test_search_service import CORPUS

needs_model = pytest.mark.skipif(not EMBEDDERS_AVAILABLE, reason="the ml extra is not installed")
NONSENSE = "qwxzv flurble zzyzx"


@needs_model
@pytest.mark.model
def test_nonsense_finds_nothing_while_the_interim_static_model_answers(settings: Settings, engine: Engine) -> None:
    s = interim_static_searcher(engine, settings)
    assert s.status()["model"] == "static"
    for mode in ("bm25", "dense", "hybrid"):
        for spell in (False, True):  # the page, the API and the CLI search with spelling suggestions
            found = s.search(NONSENSE, mode=mode, spell=spell)
            assert (found.total, [h.paper.id for h in found.hits]) == (0, []), (mode, spell)
            assert found.error is None
    nonsense_with_filter = s.search(f"{NONSENSE} cat:cs.LG", mode="dense")
    assert (nonsense_with_filter.total, nonsense_with_filter.hits) == (0, [])
    # a real question is still answered by meaning, a paper no query word matched included
    meant = s.search("airplane aerodynamics", mode="dense")
    assert meant.hits[0].paper.id == "2104.00004" and meant.hits[0].reason == "semantic"


@needs_model
@pytest.mark.model
def test_no_known_word_shows_nothing_by_meaning_however_close(settings: Settings, engine: Engine) -> None:
    """On SciFact's 5,183 abstracts the quick static model puts this very query at cosine 0.40 from its
    nearest paper, past the static threshold (docs/decisions.md): with no cut at all, still nothing."""
    s = interim_static_searcher(engine, settings)
    served = s.current()
    assert served.served_model == "static" and served.embedder is not None

    def ranked(text: str, mode: str) -> list[str]:
        assert served.embedder is not None
        vector = served.embedder.encode([text])[0]
        options = dict(lexical=served.lexical, dense=served.dense, vector=vector, min_similarity=-1.0)
        return hybrid.rank(parse_query(text), mode=mode, **options).ids  # type: ignore[arg-type]

    for mode in ("dense", "hybrid"):
        assert ranked(NONSENSE, mode) == [], mode
        assert ranked(f"{NONSENSE} cat:cs.LG", mode) == [], mode
        assert len(ranked("airplane aerodynamics", mode)) == len(CORPUS), mode  # an English word: every neighbour
        assert "2104.00004" in ranked("Zzyzx turbulent", mode)[:1], mode  # a word of the index

"""Keyphrases: 3 to 8 per paper, extracted locally from the title and abstract with YAKE (``yake-rust``).

YAKE scores candidate phrases (up to 3 words, never starting or ending with a stop word) by statistics of the
text itself: no model, no corpus, no network. We ask for 30 candidates and keep the best complete noun phrases
(no stop word inside, from YAKE's English list or ours; no leading verb such as "present"; evaluative opening
words such as "popular" dropped, and no fragment by the rule of :mod:`paperfeed.noun_phrases`: no verb or
adverb inside, no adjective at the end, no name cut short) that add something:
a phrase whose words are all inside a phrase already kept (``range view`` after ``range view representation``)
is dropped, and a longer one replaces the shorter ones it covers. Single plain words are used only to reach
three phrases; acronyms and names (``LiDAR``, ``GPT-4``) count as phrases. Speed and choices:
docs/decisions.md ("Keyphrases").

:func:`refresh_keywords` computes them for papers that lack them (or changed since); ``paperfeed index`` and the
index upkeep call it (:mod:`paperfeed.search.upkeep`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import yake_rust
from sqlalchemy import Engine

from paperfeed.noun_phrases import fragment_reason, strip_filler
from paperfeed.search.analyze import STOP_WORDS, words
from paperfeed.store.keywords import papers_lacking_keywords, store_keywords
from paperfeed.store.papers import now_utc

MIN_KEYWORDS = 3
MAX_KEYWORDS = 6  # within the 3 to 8 asked: more were mostly near-repeats on the demo corpus
CANDIDATES = 30
# When the selection rules last changed (the noun-phrase rule, issue 22): phrases computed before are redone once.
RULES_SINCE = datetime(2026, 12, 7, tzinfo=UTC)
BATCH = 500

_local = threading.local()
log = logging.getLogger(__name__)


def _extractor() -> yake_rust.Yake:
    found = getattr(_local, "yake", None)
    if found is None:
        found = yake_rust.Yake(language="en", ngrams=3, deduplication_threshold=0.7)
        _local.yake = found
    return found


# Verbs that open a YAKE candidate ("present cycle-contrastive learning"): the phrase is not a noun phrase.
LEADING_VERBS = frozenset(
    [
        "present",
        "presents",
        "propose",
        "proposes",
        "introduce",
        "introduces",
        "evaluate",
        "evaluates",
        "show",
        "shows",
        "improve",
        "improves",
        "improving",
        "rethinking",
        "demonstrate",
        "demonstrates",
        "achieve",
        "achieves",
        "use",
        "uses",
        "using",
        "reframe",
        "reframes",
        "study",
        "studies",
        "explore",
        "explores",
        "investigate",
        "investigates",
        "enable",
        "enables",
        "enabling",
        "called",
        "named",
    ]
)


def _stopwords() -> frozenset[str]:
    found = getattr(_local, "stop", None)
    if found is None:
        found = _local.stop = frozenset(_extractor().stopwords) | STOP_WORDS  # the property copies: once per thread
    return found


def _phrase_ok(phrase: str) -> bool:
    """A noun-phrase-like candidate: letters, no stop word anywhere, no leading verb."""
    parts = words(phrase)
    if not parts or not any(c.isalpha() for c in phrase):
        return False
    stop = _stopwords()
    return not any(p in stop for p in parts) and parts[0] not in LEADING_VERBS


def _distinctive_word(phrase: str) -> bool:
    """A single word worth a chip on its own: an acronym or name (``LiDAR``, ``BERT``, ``GPT-4``)."""
    return len(phrase) >= 3 and (any(c.isupper() for c in phrase[1:]) or any(c.isdigit() for c in phrase))


def _add(kept: list[str], kept_words: list[set[str]], phrase: str) -> None:
    """Keep ``phrase`` unless a kept phrase already covers its words; it replaces kept phrases it covers."""
    ws = set(words(phrase))
    if any(ws <= other for other in kept_words):
        return
    for i in reversed([i for i, other in enumerate(kept_words) if other < ws]):
        del kept[i], kept_words[i]
    kept.append(phrase)
    kept_words.append(ws)


def extract_keywords(title: str, abstract: str) -> list[str]:
    """3 to :data:`MAX_KEYWORDS` keyphrases of a paper, best first (fewer only for very short texts)."""
    text = f"{title.strip().rstrip('.')}. {abstract.strip()}".strip(". ")
    if not text:
        return []
    candidates = [strip_filler(" ".join(p.split())) for p, _score in _extractor().get_n_best(text, n=CANDIDATES)]
    stop = _stopwords()
    candidates = [c for c in candidates if _phrase_ok(c) and fragment_reason(c, text, stop) is None]
    kept: list[str] = []
    kept_words: list[set[str]] = []
    for phrase in candidates:  # phrases of several words, and acronyms or names
        if len(kept) < MAX_KEYWORDS and (" " in phrase or _distinctive_word(phrase)):
            _add(kept, kept_words, phrase)
    for phrase in candidates:  # plain single words only to reach the minimum
        if len(kept) < MIN_KEYWORDS and len(phrase) >= 4:
            _add(kept, kept_words, phrase)
    return kept


def refresh_keywords(*, engine: Engine, limit: int | None = None, progress: Callable[[int], None] | None = None) -> int:
    """Compute and store keyphrases for papers that have none (or changed since); returns how many."""
    done = 0
    while limit is None or done < limit:
        size = BATCH if limit is None else min(BATCH, limit - done)
        # Stamped with the time *before* the texts are read: a paper changed while its phrases are computed
        # stays due (its changed_at is later), instead of keeping phrases of its old text for good.
        read_at = now_utc()
        with engine.connect() as conn:
            todo = papers_lacking_keywords(conn=conn, limit=size, stale_before=RULES_SINCE)
        if not todo:
            break
        found = {pid: extract_keywords(title, abstract) for pid, title, abstract in todo}
        with engine.begin() as conn:
            store_keywords(conn=conn, found=found, now=read_at)
        done += len(todo)
        if progress is not None:
            progress(done)
        if len(todo) < size:
            break
    return done


def keep_keywords_up_to_date(*, engine: Engine) -> int:
    """:func:`refresh_keywords` for the index upkeep: a failure is logged (search goes on) and counts as 0."""
    try:
        return refresh_keywords(engine=engine)
    except Exception:  # noqa: BLE001 - keyphrases are an extra: never fail a refresh over them
        log.exception("computing keyphrases failed; papers without them show no keyword chips")
        return 0

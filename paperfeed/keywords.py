"""Keyphrases: 3 to 8 per paper, extracted locally from the title and abstract with YAKE (``yake-rust``).

YAKE scores candidate phrases (up to 3 words, never starting or ending with a stop word) by statistics of the
text itself: no model, no corpus, no network. We ask for 30 candidates and keep the best complete noun phrases
(no stop word inside, from YAKE's English list or ours; no leading verb such as "present"; evaluative opening
words such as "popular" dropped, and no fragment by the rule below: no verb or
adverb inside, no adjective at the end, no name cut short) that add something:
a phrase whose words are all inside a phrase already kept (``range view`` after ``range view representation``)
is dropped, and a longer one replaces the shorter ones it covers. Single plain words are used only to reach
three phrases; acronyms and names (``LiDAR``, ``GPT-4``) count as phrases. Speed and choices:
docs/decisions.md ("Keyphrases").

:func:`refresh_keywords` computes them for papers that lack them (or changed since); ``paperfeed index`` and the
index writer calls it.

Complete noun phrases (:func:`fragment_reason`): is a keyphrase candidate a complete noun phrase? A small rule
set without a tagger (no model, no data files).

YAKE proposes word n-grams; many are pieces of a sentence ("representation learning seeks", "attracting
significant attention") or of a longer name ("Spectrally Consistent Deep"). A candidate of words
``w1 .. wn`` (split on spaces, folded; for ``a-b`` compounds the last part decides) is a *fragment* when:

1. any word is a verb form (a base from :data:`VERBS`, inflected: ``-s``, ``-ed``, ``-ing``, or listed
   irregular forms), unless it is a nominal ``-ing`` word (:data:`NOMINAL_ING`: ``learning``, ``training``)
   or an opening participle used as an adjective (:data:`PARTICIPLE_ADJECTIVES`: ``learned representations``),
   or a function word (:data:`FUNCTION_WORDS`: ``visual tokens inside``);
2. the first word ends in ``-ing`` and is not nominal (``Manipulating Eigenvalue Distribution``), or is one
   of the nominal ones that read as verbs when they open a phrase (:data:`OPENING_GERUNDS`: ``Understanding``);
3. any word is an adverb: ends in ``-ly`` and is not one of a few nouns (``family``, ``anomaly``);
4. the last word is not a noun: an adjective by list (:data:`ADJECTIVES`) or by suffix (``-al``, ``-ive``,
   ``-ous``, ``-ic``, ``-able``/``-ible``, ``-ful``, ``-less``, ``-ed``; each with the nouns it would
   wrongly catch listed: ``retrieval``, ``objective``, ``logic``, ``variable``), or a compound modifier
   (``instance-level``, ``zero-shot``, ``point-wise``);
5. the phrase is cut out of a longer name: at every place it occurs in the text, the next word follows
   without punctuation and is itself a noun-like word, for a capitalised phrase (``linear Structural Equation``
   [Models]) or one of three words, the longest proposed (``efficient selective state`` [space]), or of two
   ending in a noun that mostly modifies another (:data:`MODIFIER_NOUNS`: ``Transformer language`` [models]);
6. the phrase opens with the second half of a compound modifier written apart (``dimensional latent space``
   after "lower").

Before the test, evaluative or boilerplate opening words are dropped (:data:`LEADING_FILLER`:
``popular neural network`` -> ``neural network``, ``proposed sentence space`` -> ``sentence space``).

The same rule measures the share of fragments among the chips (``bench/keyphrase_fragments.py``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

import yake_rust
from sqlalchemy import Engine

from paperfeed.store.keywords import papers_lacking_keywords, store_keywords
from paperfeed.store.papers import now_utc
from paperfeed.text import STOP_WORDS, fold, words

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


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Verbs that are rarely nouns in paper abstracts; every regular inflection counts.
VERBS = _set(
    """achieve address adopt allow alleviate apply argue arise attract beat become boost bring build capture
    compare conceal connect consider consist contain contribute decouple demonstrate depend derive describe
    determine develop differ dominate emerge employ enable encode enhance ensure establish evaluate examine
    exceed exhibit exist explain exploit explore extend facilitate fail find generalize generalise generate
    give hinder identify illustrate improve incorporate indicate induce integrate introduce investigate involve
    learn leverage lie make manipulate mitigate motivate obtain occur offer outperform perform predict prevent
    produce propose prove provide quantify raise reach realize receive reduce reflect rely remain remove render
    represent require rethink reveal revisit seek seem serve show solve specify suffer suggest surpass tackle
    take tend unify unlock uncover unveil utilize utilise validate verify yield reframe accelerate present behave
    aim tokenize attain enforce excel fuse train characterize characterise discover align promise benefit analyse
    analyze underpin understand assign teach satisfy replicate tell lack decode share eliminate elucidate
    translate guide store include extract observe traverse circulate prescribe matter aid assess assume attempt
    avoid calculate choose claim collect comprise conclude confirm construct convert correspond create define
    deliver deploy detect discuss distinguish encourage estimate expand expect express follow gain gather grow
    hold imply inspire interpret let maintain meet note operate outline overcome pose possess preserve pursue
    recognize recover refine regard relate replace reproduce resemble resolve retain simulate stem struggle
    succeed sustain treat try turn vary want hypothesize emphasize emphasise inform necessitate"""
)
IRREGULAR = _set(
    """advancing including driven shown showed made took taken gave given found led brought became came sought
    built arose arisen lay lying proven underwent"""
)
# Prepositions, conjunctions and other function words YAKE's stop list lacks: never inside a keyphrase.
FUNCTION_WORDS = _set(
    """inside within without across among amongst via per upon towards toward beyond despite whether while whose
    whereas although though unless until versus vs thus hence therefore moreover furthermore however"""
)
# Participles that open noun phrases as adjectives ("learned representations"); other opening verb forms do not.
PARTICIPLE_ADJECTIVES = _set(
    """learned trained pretrained pre-trained fixed structured supervised unsupervised self-supervised masked
    generated distributed shared stored observed extracted improved"""
)
# Words ending in -ing that name a thing or a field: never read as verbs.
NOMINAL_ING = _set(
    """learning training modeling modelling embedding understanding clustering imaging scaling reasoning
    processing meaning forgetting encoding decoding teaching splatting pretraining pre-training fine-tuning
    finetuning planning mapping checkpointing tracking sensing steering pruning probing matching rematching
    merging hashing grokking engineering counting coding benchmarking answering prompting sampling computing
    tuning forecasting captioning editing rendering labeling labelling grounding thinking denoising inpainting
    setting settings string strings thing things ring king spring wing building painting drawing writing
    reading hearing parsing tagging ranking recommending retraining distilling quantizing pooling padding
    masking routing caching scheduling indexing filtering smoothing rewarding nursing mirroring morning
    timing testing beginning ending opening clothing housing funding finding findings warning warnings
    handwriting programming bootstrapping boosting bagging stacking"""
)
# Nominal -ing words that, opening a phrase, read as verbs ("Understanding Foundation Models").
OPENING_GERUNDS = _set("understanding building reading writing finding drawing thinking handling")
NOUNS_ENDING_LY = _set("family anomaly assembly supply reply monopoly ally rally italy butterfly poly")
# The suffixes of rule 4, and the nouns each would wrongly reject.
ADJECTIVE_SUFFIXES: dict[str, frozenset[str]] = {
    "al": _set(
        """retrieval signal interval potential tutorial proposal removal arrival trial material journal
        terminal manual rehearsal approval survival reversal renewal goal total animal capital festival
        hospital principal rival portal metal crystal medal dial denial disposal individual integral normal
        spiral ritual appraisal withdrawal recital referral rebuttal chemical differential editorial
        mammal oval pedal petal carnival cardinal original radical neutral hexadecimal"""
    ),
    "ive": _set(
        """objective alternative derivative primitive perspective incentive narrative archive drive directive
        additive initiative negative positive representative relative motive detective executive hive five
        olive explosive imperative native adjective captive"""
    ),
    "ous": frozenset(),
    "ic": _set(
        """logic topic music graphic metric heuristic clinic traffic mechanic arithmetic rhetoric critic fabric
        magic mimic public tactic characteristic statistic diagnostic static epidemic pandemic plastic rubric
        mosaic electronic attic ethic tonic lyric epic relic garlic panic picnic republic arsenic"""
    ),
    "able": _set("table cable variable syllable vegetable timetable observable deliverable"),
    "ible": frozenset(),
    "ful": frozenset(),
    "less": frozenset(),
    "ed": _set("seed need speed bed feed red shed breed weed greed creed steed hundred embed"),
}
ADJECTIVES = _set(
    """deep robust large small big wide fast slow new simple strong weak hard easy high low long short good bad
    better best worse worst more most many few several various different same other key main sparse dense fine
    coarse clean noisy heavy real true false free full whole entire single multiple diverse rich poor broad
    narrow early late latent recent current common previous efficient sufficient consistent significant
    relevant important independent equivariant recurrent salient transparent intelligent smooth rigid random
    unseen unknown closed explicit implicit concrete discrete compact accurate precise raw pretrained
    linear nonlinear non-linear similar modular molecular regular circular popular cellular granular tabular
    singular particular polar nuclear clear angular planar bilinear multilinear familiar
    euclidean non-euclidean riemannian bayesian markovian
    transient coherent persistent inherent frequent subsequent apparent evident excellent competent fluent
    dominant redundant abundant elegant pertinent permanent divergent convergent emergent ancient adjacent
    proficient deficient ambient distinct fundamental crucial prominent complementary arbitrary necessary
    contrary auxiliary primary secondary temporary ordinary preliminary elementary exemplary
    zero few-shot zero-shot one-shot due"""
)
# Last parts of compound modifiers: ``instance-level``, ``large-scale``, ``point-wise``.
COMPOUND_MODIFIER_ENDS = _set(
    "level scale shot grained wise aware free agnostic like centric world order term range rank resource"
)
# Nouns that mostly modify a following noun ("language models", "foundation model", "training data"): a
# two-word phrase ending in one is checked by rule 5 as a three-word one is.
MODIFIER_NOUNS = _set("language foundation training vision diffusion")
# Second halves of compound modifiers written apart ("lower dimensional", "large scale"): a phrase opening with
# one lost its first word (rule 6).
COMPOUND_TAILS = COMPOUND_MODIFIER_ENDS | _set("dimensional based driven guided specific")
LEADING_FILLER = _set(
    """popular powerful common typical versatile various novel new existing proposed introduced defined
    presented described given so-called remarkable promising significant substantial tremendous impressive
    comprehensive extensive numerous several many certain recent previous prior current conventional
    traditional simple effective useful strong"""
)

_WORD_EDGE = re.compile(r"^[^\w]+|[^\w]+$")


def _inflections(base: str) -> set[str]:
    forms = {base, base + "s", base + "ed", base + "ing", base + "d"}
    if base.endswith("e"):
        forms |= {base[:-1] + "ing", base + "d"}
    if base.endswith("y"):
        forms |= {base[:-1] + "ies", base[:-1] + "ied"}
    if base.endswith(("s", "sh", "ch", "x", "z", "o")):
        forms.add(base + "es")
    if base.endswith("ie"):
        forms.add(base[:-2] + "ying")
    return forms


@lru_cache(maxsize=1)
def _verb_forms() -> frozenset[str]:
    forms: set[str] = set(IRREGULAR)
    for base in VERBS:
        forms |= _inflections(base)
    return frozenset(forms - NOMINAL_ING)


def _fold_word(word: str) -> str:
    return _WORD_EDGE.sub("", fold(word))


def _head(word: str) -> str:
    """The part of a word that decides its class: the last part of a hyphenated compound."""
    return word.rsplit("-", 1)[-1] if "-" in word.strip("-") else word


def is_verb(word: str) -> bool:
    w = _fold_word(word)
    return w not in NOMINAL_ING and (w in _verb_forms() or _head(w) in _verb_forms())


def is_adverb(word: str) -> bool:
    w = _fold_word(word)
    return len(w) > 4 and w.endswith("ly") and w not in NOUNS_ENDING_LY


def is_adjective(word: str) -> bool:
    """An adjective (or compound modifier) by list or suffix; nouns with those suffixes are listed."""
    w = _fold_word(word)
    if w in ADJECTIVES:
        return True
    if "-" in w.strip("-"):
        if _head(w) in COMPOUND_MODIFIER_ENDS:
            return True
        w = _head(w)
        if w in ADJECTIVES:
            return True
    if len(w) <= 4 or not w.isalpha():
        return False
    for suffix, nouns in ADJECTIVE_SUFFIXES.items():
        if w.endswith(suffix):
            return w not in nouns
    return False


def strip_filler(phrase: str) -> str:
    """``phrase`` without evaluative or boilerplate opening words (``popular neural network`` -> ``neural
    network``); empty when nothing else is left."""
    parts = phrase.split()
    while parts and _fold_word(parts[0]) in LEADING_FILLER:
        parts.pop(0)
    return " ".join(parts)


def _name_word(word: str) -> bool:
    w = _fold_word(word)
    verbal_ing = w.endswith("ing") and w not in NOMINAL_ING
    return bool(w) and not (is_verb(w) or is_adverb(w) or is_adjective(w) or verbal_ing)


def is_cut_from_longer_name(phrase: str, text: str, stop_words: frozenset[str]) -> bool:
    """Rule 5: wherever it occurs in ``text``, ``phrase`` runs on without punctuation into another word of a
    name: a capitalised phrase into a capitalised word (a title's name cut short), or a three-word phrase (the
    longest YAKE proposes) into a word that is not a verb, adverb, adjective or stop word."""
    parts = phrase.split()
    capitalised = parts[-1][:1].isupper()
    if len(parts) < (2 if capitalised or _fold_word(parts[-1]) in MODIFIER_NOUNS else 3):
        return False
    found = False
    for match in re.finditer(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", text):
        found = True
        following = re.match(r" +([\w-]+)", text[match.end() :])
        if following is None:
            return False
        word = following.group(1)
        if (capitalised and not word[:1].isupper()) or fold(word) in stop_words or not _name_word(word):
            return False
    return found


def fragment_reason(phrase: str, text: str = "", stop_words: frozenset[str] = frozenset()) -> str | None:
    """Why ``phrase`` is not a complete noun phrase (the rule number and word), or None when it is one."""
    parts = phrase.split()
    if not parts:
        return "empty"
    for i, word in enumerate(parts):
        if _fold_word(word) in FUNCTION_WORDS:
            return f"1: function word {word!r}"
        if is_verb(word) and not (i == 0 and len(parts) > 1 and _fold_word(word) in PARTICIPLE_ADJECTIVES):
            return f"1: verb {word!r}"
        if is_adverb(word):
            return f"3: adverb {word!r}"
    first = _head(_fold_word(parts[0]))
    if first.endswith("ing") and (first not in NOMINAL_ING or (first in OPENING_GERUNDS and len(parts) > 1)):
        return f"2: opens with {parts[0]!r}"
    if is_adjective(parts[-1]):
        return f"4: ends with the modifier {parts[-1]!r}"
    if text and is_cut_from_longer_name(phrase, text, stop_words):
        return "5: cut from a longer name"
    if len(parts) > 1 and first in COMPOUND_TAILS:
        return f"6: opens with the second half of a compound, {parts[0]!r}"
    return None

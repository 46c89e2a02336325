"""The speed-ups behind related papers change no result: the ASCII tokenizer path, query terms picked with
remembered term statistics, and vectors read in one batch (issue 16, item 4; bench/related.py measures them)."""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from pathlib import Path

import numpy as np

from paperfeed.rank import signals as sig
from paperfeed.search.analyze import MAX_TOKEN_LEN, analyse, fold, words
from paperfeed.search.dense import DenseIndex
from paperfeed.search.lexical import LexicalDoc, LexicalIndex
from paperfeed.text import TOKEN as _TOKEN


def test_ascii_tokenizer_path_cuts_words_exactly_like_the_pattern() -> None:
    rng = random.Random(7)
    samples = ["".join(chr(c) for c in range(128)), "state-of-the-art BERT_base x2 (n=5) über Ångström 3.14"]
    samples += ["".join(chr(rng.randrange(128)) for _ in range(rng.randrange(80))) for _ in range(3000)]
    for text in samples:
        expected = [t for t in _TOKEN.findall(fold(text)) if len(t) <= MAX_TOKEN_LEN]
        assert words(text) == expected, text


def _reference_terms(title: str, abstract: str, lexical: LexicalIndex, n_terms: int) -> list[str]:
    """select_terms as first written: nothing remembered, both fields' frequencies read for every term."""
    counts: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for text, weight in ((title, sig.TITLE_TF), (abstract, 1)):
        for w, tf in Counter(words(text)).items():
            for t in analyse(w):
                counts[t] += weight * tf
                surface.setdefault(t, w)
    searcher = lexical._searcher()
    n = float(searcher.num_docs)
    scored = []
    for t, tf in counts.items():
        d = float(max(searcher.doc_freq("abstract", t), searcher.doc_freq("title", t)))
        if d < 2:
            continue
        idf = math.log(1 + (max(n, d) - d + 0.5) / (d + 0.5))
        scored.append((tf / (tf + 1.2) * 2.2 * idf, t))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [surface[t] for _, t in scored[:n_terms]]


def _doc(i: int, rng: random.Random, vocab: list[str]) -> LexicalDoc:
    title = " ".join(rng.choice(vocab) for _ in range(6))
    return LexicalDoc(f"p{i}", title.capitalize(), " ".join(rng.choice(vocab) for _ in range(60)), f"Author {i % 7}")


def test_query_terms_match_the_uncached_choice_and_follow_new_papers(tmp_path: Path) -> None:
    rng = random.Random(3)
    vocab = [f"{w}{s}" for w in ("graph", "neural", "protein", "fold", "lattice", "query") for s in "abcdefghij"]
    lexical = LexicalIndex.open(tmp_path / "lexical")
    lexical.add(_doc(i, rng, vocab) for i in range(300))
    lexical.commit()
    for i in range(0, 300, 17):
        doc = _doc(i, random.Random(i), vocab)
        for n_terms in (5, 25, 40):
            assert sig.select_terms(doc.title, doc.abstract, lexical, n_terms) == _reference_terms(
                doc.title, doc.abstract, lexical, n_terms
            )
    # a word only one paper has can match nothing else and is never picked ...
    abstract = "zeolitic frameworks " + " ".join(vocab[:20])
    assert "zeolitic" not in sig.select_terms("Zeolitic frameworks", abstract, lexical)
    lexical.add(
        [
            LexicalDoc("new1", "Zeolitic imidazolate frameworks", "zeolitic pores"),
            LexicalDoc("new2", "Pores", "zeolitic"),
        ]
    )
    lexical.commit()
    # ... until a second paper with it arrives: the remembered frequencies follow the index
    assert "zeolitic" in sig.select_terms("Zeolitic frameworks", abstract, lexical)
    assert sig.select_terms("Zeolitic frameworks", abstract, lexical) == _reference_terms(
        "Zeolitic frameworks", abstract, lexical, sig.QUERY_TERMS
    )


class _Model:
    name, dim, fingerprint = "t", 8, "t-8"


def test_vectors_read_in_one_batch_are_the_unit_vectors_bit_for_bit(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    vecs = rng.normal(size=(50, 8)).astype(np.float32)
    vecs[7] = 0.0  # no direction: left out
    dense = DenseIndex.open(tmp_path, "t")
    dense.prepare(_Model())  # type: ignore[arg-type]
    ids = [f"p{i}" for i in range(50)]
    dense.add(ids, vecs, ids)
    dense.commit()
    asked = ["p3", "missing", "p7", *ids[10:40]]
    got = sig.vectors_of(dense, asked)
    assert list(got) == [i for i in asked if i in ids and i != "p7"]
    for pid, v in got.items():
        arr = dense.vector(pid)
        assert arr is not None
        expected = arr / float(np.linalg.norm(arr))  # what each vector was divided by before
        assert v.dtype == np.float32 and np.array_equal(v, expected), pid
    assert re.fullmatch(r"p\d+", next(iter(got)))

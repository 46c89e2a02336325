"""Dense index: vectors persist, updates are incremental and resumable, models never mix, similar papers."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
from sqlalchemy import Engine

from paperfeed.search import dense
from paperfeed.search.dense import DenseIndex, DenseIndexError
from paperfeed.store.papers import upsert_papers
from tests.factories import make_paper

TOPICS = [
    (
        "Graph neural networks for molecule property prediction",
        "We apply message passing graph neural networks to predict molecular properties of drug candidates.",
    ),
    (
        "Transformer language models for machine translation",
        "Attention based transformer models translate sentences between languages with high accuracy.",
    ),
    (
        "Protein folding with deep learning",
        "Deep networks predict the three dimensional structure of proteins from their amino acid sequence.",
    ),
    (
        "Turbulent boundary layers on swept wings",
        "Wind tunnel experiments measure turbulent boundary layer transition on swept aircraft wings.",
    ),
    (
        "Retrieval augmented question answering",
        "A dense retriever finds passages that a reader model uses to answer open domain questions.",
    ),
]


class HashingEmbedder:
    """A small real embedder (feature hashing of words) that counts what it embeds: fast, no model files."""

    def __init__(self, dim: int = 64, name: str = "static", salt: str = "") -> None:
        self.name, self.dim, self.salt = name, dim, salt
        self.fingerprint = f"hashing-{dim}-{salt}"
        self.embedded: list[str] = []
        self.fail_after: int | None = None

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)

    def encode(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        if self.fail_after is not None and len(self.embedded) + len(texts) > self.fail_after:
            raise KeyboardInterrupt("killed")
        self.embedded.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int(hashlib.md5((self.salt + word).encode()).hexdigest(), 16)
                out[row, h % self.dim] += 1.0 if (h >> 64) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def _store(engine: Engine, papers: list) -> None:
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=papers)


def _topic_papers(n_each: int = 2) -> list:
    return [make_paper(title=f"{t} part {i}", abstract=a) for t, a in TOPICS for i in range(n_each)]


def test_update_embeds_every_paper_and_vectors_persist(engine: Engine, settings) -> None:
    papers = _topic_papers()
    _store(engine, papers)
    emb = HashingEmbedder()
    index = DenseIndex.open(settings.index_dir, "static")
    assert len(index) == 0
    assert index.update(engine, emb) == len(papers)
    reopened = DenseIndex.open(settings.index_dir, "static")
    assert sorted(reopened.ids) == sorted(p.id for p in papers)
    assert len(reopened) == len(papers)
    v = reopened.vector(papers[0].id)
    assert v is not None and v.dtype == np.float32 and abs(float(np.linalg.norm(v)) - 1) < 1e-5
    assert reopened.vector("9999.99999") is None
    folder = settings.index_dir / "dense" / "static"
    assert (folder / "meta.json").is_file()
    assert list(folder.glob("*.vectors.npy")) and list(folder.glob("*.ids.json"))


@pytest.fixture
def embedded(engine: Engine, settings) -> tuple[list, HashingEmbedder, DenseIndex]:  # type: ignore[no-untyped-def]
    """The topic papers, stored and embedded into a fresh index: the papers, the embedder and the index."""
    papers = _topic_papers()
    _store(engine, papers)
    emb = HashingEmbedder()
    index = DenseIndex.open(settings.index_dir, "static")
    index.update(engine, emb)
    return papers, emb, index


def test_search_finds_the_paper_by_its_own_text(embedded: tuple[list, HashingEmbedder, DenseIndex]) -> None:
    papers, emb, index = embedded
    query = emb.encode(["protein structure prediction from amino acid sequence with deep networks"])[0]
    ids, scores = index.search(query, 3)
    assert ids[0] in {p.id for p in papers if p.title.startswith("Protein folding")}
    assert scores == sorted(scores, reverse=True)
    assert index.search(query, 0) == ([], [])


def test_incremental_update_embeds_only_new_and_changed_papers(
    engine: Engine, settings, embedded: tuple[list, HashingEmbedder, DenseIndex]
) -> None:
    papers, emb, index = embedded
    assert index.update(engine, emb) == 0  # nothing changed: nothing embedded
    newer = make_paper(
        id=papers[0].id,
        title=papers[0].title,
        abstract="A completely revised abstract.",
        versions=[*papers[0].versions, type(papers[0].versions[0])(2, None)],
    )
    fresh = make_paper(title="Sparse retrieval with learned term weights", abstract="SPLADE expands terms.")
    _store(engine, [newer, fresh])
    emb.embedded.clear()
    assert index.update(engine, emb) == 2
    assert len(emb.embedded) == 2
    assert len(index) == len(papers) + 1
    ids, _ = index.search(emb.encode(["completely revised abstract"])[0], len(index))
    assert ids.count(papers[0].id) == 1  # the old vector is gone, not returned twice
    reopened = DenseIndex.open(settings.index_dir, "static")
    assert np.allclose(reopened.vector(papers[0].id), index.vector(papers[0].id))
    assert len(reopened) == len(papers) + 1


def test_model_change_re_embeds_into_a_fresh_space(engine: Engine, settings) -> None:
    papers = _topic_papers()
    _store(engine, papers)
    index = DenseIndex.open(settings.index_dir, "static")
    index.update(engine, HashingEmbedder(dim=64))
    other = HashingEmbedder(dim=32, salt="v2")
    assert not index.matches(other)
    assert index.update(engine, other) == len(papers)
    assert index.matches(other) and index.dim == 32
    reopened = DenseIndex.open(settings.index_dir, "static")
    assert reopened.dim == 32 and len(reopened) == len(papers)
    assert all(reopened.vector(p.id).shape == (32,) for p in papers)
    with pytest.raises(DenseIndexError, match="paperfeed index"):
        reopened.search(np.ones(64, dtype=np.float32), 3)
    # Same dimension, other weights: still a different space, so everything is embedded again.
    assert reopened.update(engine, HashingEmbedder(dim=32, salt="v3")) == len(papers)


def test_killed_update_resumes_where_it_stopped(engine: Engine, settings, monkeypatch) -> None:
    monkeypatch.setattr(dense, "FLUSH_ROWS", 3)
    papers = [make_paper(title=f"Paper about subject {i}", abstract=f"Abstract words {i} topic{i}") for i in range(12)]
    _store(engine, papers)
    emb = HashingEmbedder()
    emb.fail_after = 7
    index = DenseIndex.open(settings.index_dir, "static")
    with pytest.raises(KeyboardInterrupt):
        index.update(engine, emb, batch_size=3)
    done_before = len(DenseIndex.open(settings.index_dir, "static"))
    assert 0 < done_before < len(papers)
    emb.fail_after = None
    emb.embedded.clear()
    resumed = DenseIndex.open(settings.index_dir, "static")
    assert resumed.update(engine, emb, batch_size=3) == len(papers) - done_before
    assert len(emb.embedded) == len(papers) - done_before
    assert sorted(resumed.ids) == sorted(p.id for p in papers)


def test_update_embeds_newest_papers_first(engine: Engine, settings) -> None:
    """A large backlog gives today's papers their vectors first; undated papers count from when they arrived."""
    from datetime import UTC, datetime

    dated = [make_paper(title=f"Dated paper {day}", published=datetime(2025, 3, day, tzinfo=UTC)) for day in (3, 17, 9)]
    undated = make_paper(title="Undated paper from a BibTeX file", published=None, updated=None, versions=[])
    _store(engine, [*dated, undated])  # first seen now: newer than any 2025 publication
    emb = HashingEmbedder()
    assert DenseIndex.open(settings.index_dir, "static").update(engine, emb, batch_size=2) == 4
    order = [text.split(".")[0] for text in emb.embedded]
    assert order == ["Undated paper from a BibTeX file", "Dated paper 17", "Dated paper 9", "Dated paper 3"]


def test_similar_excludes_the_paper_itself_and_exact_duplicates(engine: Engine, settings) -> None:
    papers = _topic_papers(3)
    twin = make_paper(id="2402.00001", title=papers[0].title, abstract=papers[0].abstract)
    _store(engine, papers)
    _store(engine, [twin])  # same text under another arXiv id: a duplicate
    index = DenseIndex.open(settings.index_dir, "static")
    index.update(engine, HashingEmbedder())
    ids, scores = index.similar(papers[0].id, 3)
    assert papers[0].id not in ids and twin.id not in ids
    assert set(ids) <= {p.id for p in papers[1:3]} | {p.id for p in papers[3:]}
    assert ids[0] in {papers[1].id, papers[2].id}  # same topic first
    assert len(ids) == 3 and scores == sorted(scores, reverse=True)
    assert index.similar("0000.00000", 5) == ([], [])


def test_renamed_paper_is_found_only_under_its_new_id(engine: Engine, settings) -> None:
    derived = make_paper(
        id="pf-0123456789abcdef",
        title="Static embeddings distilled from sentence encoders",
        abstract="Model2vec distils a static model.",
        versions=[],
    )
    _store(engine, [derived])
    index = DenseIndex.open(settings.index_dir, "static")
    emb = HashingEmbedder()
    index.update(engine, emb)
    _store(engine, [make_paper(id="2403.00042", title=derived.title, abstract=derived.abstract)])
    index.update(engine, emb)
    assert "2403.00042" in index.ids and derived.id not in index.ids
    assert len(index) == 1

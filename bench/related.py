"""Speed of related papers: similar papers for one paper or a pasted text, and "for you" for a 200-paper library.

    OMP_NUM_THREADS=1 .venv/bin/python bench/related.py       # 100,000 papers (issue 16's figures)
    .venv/bin/python bench/related.py --papers 20000 --runs 100
    OMP_NUM_THREADS=1 .venv/bin/python bench/related.py --embed  # + embedding a pasted text with MiniLM

A synthetic corpus (seeded): 1,000 topics, each paper a noisy copy of its topic's unit vector (384 dims, as
MiniLM) and a title and abstract mixing its topic's words with common ones, 1-4 authors from a pool. It is
indexed with the product's classes (tantivy ``LexicalIndex``, ``DenseIndex`` with its HNSW graph) and ranked
with the product's functions; the baseline, measured in the same run on the same indexes, is what the
product did before: one dense nearest-neighbour query (``DenseIndex.similar``) for similar papers, and one
nearest-neighbour query per library paper (the old "for you") for recommendations. Store reads (co-saves,
hydrating the ~10 papers shown) are not included: a few milliseconds on SQLite. Prints JSON.

Pasted text (``similar_text``): texts made like the corpus's papers but not indexed (``--runs`` more papers
are generated and held out), each with its vector standing in for the text's embedding, ranked as
``paperfeed.rank.related.text_hits`` ranks them. ``--embed`` adds the one step the synthetic corpus cannot
stand in for: MiniLM embedding a 2,500-character abstract (the most of a text the ranking reads).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperfeed.rank.recommend import rank_library  # noqa: E402
from paperfeed.rank.related import TEXT_CHARS  # noqa: E402
from paperfeed.rank.similar import Subject, rank_similar  # noqa: E402
from paperfeed.search.dense import DenseIndex  # noqa: E402
from paperfeed.search.lexical import LexicalDoc, LexicalIndex  # noqa: E402

DIM = 384
TOPICS = 1000


class _Model:
    name, dim, fingerprint = "bench", DIM, "bench-384"


def corpus(n: int, seed: int = 16) -> tuple[list[Subject], np.ndarray, np.ndarray]:
    """Papers, their unit vectors, and each paper's topic."""
    rng = np.random.default_rng(seed)
    pyrng = random.Random(seed)
    vocab = [f"w{i}" for i in range(30_000)]
    common = vocab[:2000]
    topic_words = [vocab[2000 + t * 25 : 2000 + (t + 1) * 25] for t in range(TOPICS)]
    centers = rng.normal(size=(TOPICS, DIM))
    topic = rng.integers(0, TOPICS, size=n)
    vecs = centers[topic] + rng.normal(scale=1.2, size=(n, DIM))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    names = [f"Author{i} Name{i % 97}" for i in range(30_000)]
    papers = []
    for i in range(n):
        tw = topic_words[topic[i]]
        title = " ".join(pyrng.choice(tw) if pyrng.random() < 0.6 else pyrng.choice(common) for _ in range(8))
        abstract = " ".join(pyrng.choice(tw) if pyrng.random() < 0.3 else pyrng.choice(common) for _ in range(120))
        authors = [pyrng.choice(names) for _ in range(pyrng.randint(1, 4))]
        papers.append(Subject(f"p{i}", title, abstract, authors))
    return papers, vecs, topic


def build(papers: list[Subject], vecs: np.ndarray, folder: Path) -> tuple[LexicalIndex, DenseIndex]:
    lexical = LexicalIndex.open(folder / "lexical")
    lexical.add(LexicalDoc(p.id, p.title, p.abstract, ", ".join(p.authors)) for p in papers)
    lexical.commit()
    dense = DenseIndex.open(folder, "bench")
    dense.prepare(_Model())  # type: ignore[arg-type]
    dense.add([p.id for p in papers], vecs, [p.id for p in papers])
    dense.commit()
    return lexical, dense


def timed(fn: Any, items: list[Any]) -> dict[str, float]:
    """Wall-clock and CPU (this process) milliseconds per call, p50 and p95. On a shared machine the CPU
    figures are the better estimate of an idle machine's wall clock (run with OMP_NUM_THREADS=1)."""
    wall, cpu = [], []
    for item in items:
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(item)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    out = {}
    for name, values in (("", wall), ("cpu_", cpu)):
        arr = np.asarray(values)
        out[f"{name}p50_ms"] = round(float(np.percentile(arr, 50)), 2)
        out[f"{name}p95_ms"] = round(float(np.percentile(arr, 95)), 2)
    return out


def embedding_time(runs: int) -> dict[str, float]:
    """MiniLM (as the product loads it) embedding a 2,500-character English abstract, ``runs`` times."""
    from paperfeed.config import Settings
    from paperfeed.search.embed import get_embedder

    embedder = get_embedder("minilm", Settings(_env_file=None))  # type: ignore[call-arg]
    words = (
        "We study message passing graph neural networks that predict molecular properties of drug candidates "
        "from their molecular graphs, and compare equivariant architectures on energy prediction benchmarks. "
    )
    texts = [f"{i} {words * 20}"[:TEXT_CHARS] for i in range(runs)]  # distinct texts: no cache helps
    embedder.encode(texts[:2])
    return timed(lambda t: embedder.encode_queries([t]), texts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=200, help="papers asked for similar papers")
    ap.add_argument("--libraries", type=int, default=30, help="200-paper libraries asked for recommendations")
    ap.add_argument("--library-size", type=int, default=200)
    ap.add_argument("--embed", action="store_true", help="also time MiniLM embedding a pasted text")
    args = ap.parse_args()
    started = time.perf_counter()
    everything, all_vecs, all_topics = corpus(args.papers + args.runs)
    papers, vecs, topic = everything[: args.papers], all_vecs[: args.papers], all_topics[: args.papers]
    pasted = [
        Subject("", "", f"{s.title}. {s.abstract}", vector=v, is_text=True)
        for s, v in zip(everything[args.papers :], all_vecs[args.papers :], strict=True)
    ]
    rng = random.Random(3)
    with tempfile.TemporaryDirectory(prefix="paperfeed-bench-related-") as tmp:
        lexical, dense = build(papers, vecs, Path(tmp))
        built = round(time.perf_counter() - started, 1)
        asked = rng.sample(papers, args.runs)
        for p in asked[:5]:  # warm up caches (tantivy readers, graph pages)
            rank_similar(p, lexical=lexical, dense=dense)
        similar = {
            "baseline_dense_only": timed(lambda p: dense.similar(p.id, 20), asked),
            "fused": timed(lambda p: rank_similar(p, lexical=lexical, dense=dense, model="minilm", limit=30), asked),
            "pasted_text": timed(
                lambda t: rank_similar(t, lexical=lexical, dense=dense, model="minilm", limit=30), pasted
            ),
        }
        if args.embed:
            similar["text_embedding_minilm"] = embedding_time(args.runs)
        libraries = []
        by_topic: dict[int, list[Subject]] = {}
        for p, t in zip(papers, topic, strict=True):
            by_topic.setdefault(int(t), []).append(p)
        for _ in range(args.libraries):  # a library spread over 5 interests, newest first
            chosen = [x for t in rng.sample(sorted(by_topic), 5) for x in by_topic[t]]
            libraries.append(rng.sample(chosen, min(args.library_size, len(chosen))))

        def old_for_you(lib: list[Subject]) -> None:
            for s in lib[:50]:  # the old ranking: neighbours of each of the 50 newest library papers
                v = dense.vector(s.id)
                if v is not None:
                    dense.search(v, 50)

        foryou = {
            "baseline_per_paper_neighbours": timed(old_for_you, libraries),
            "fused": timed(lambda lib: rank_library(lib, lexical=lexical, dense=dense, limit=30), libraries),
        }
    print(
        json.dumps(
            {
                "papers": args.papers,
                "library_size": args.library_size,
                "build_seconds": built,
                "load_average_1_5_15": [round(x, 1) for x in os.getloadavg()],
                "cpus": os.cpu_count(),
                "similar": similar,
                "for_you": foryou,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

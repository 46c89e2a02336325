"""Choose the lexical engine by measurement: SQLite FTS5 vs tantivy vs bm25s.

Quality: nDCG@10 on SciFact train (title weighted above abstract, the same Python analyzer for every engine:
Snowball English stemming + stop words, so only scoring and engine differ). Speed: a synthetic corpus of N
papers recombined from real abstracts (``bench/corpus.py``): build time, incremental add of 1,000 papers,
query latency p50/p95 over 200 real queries (top 100).

    .venv/bin/python bench/lexical_engines.py --n 200000
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
import tantivy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import generate, queries  # noqa: E402

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"
STEM = Stemmer.Stemmer("english")
STOP = set(bm25s.stopwords.STOPWORDS_EN)
TOKEN = re.compile(r"[^\W_]+")
TITLE_W = 2.0


def analyse(text: str) -> list[str]:
    return STEM.stemWords([t for t in TOKEN.findall(text.lower()) if t not in STOP])


def load_scifact() -> tuple[list[tuple[str, str, str]], dict[str, str], dict[str, dict[str, int]]]:
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt") as fh:
        docs = [(r["_id"], r.get("title", ""), r.get("text", "")) for r in map(json.loads, fh)]
    with open(SCIFACT / "queries.jsonl") as fh:
        qs = {r["_id"]: r["text"] for r in map(json.loads, fh)}
    qrels: dict[str, dict[str, int]] = {}
    with open(SCIFACT / "qrels" / "train.tsv") as fh:
        qrel_lines = fh.readlines()[1:]
    for line in qrel_lines:
        q, d, s = line.split("\t")
        qrels.setdefault(q, {})[d] = int(s)
    return docs, {q: qs[q] for q in qrels}, qrels


def ndcg10(ranked: list[str], rel: dict[str, int]) -> float:
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sum(r / math.log2(i + 2) for i, r in enumerate(sorted(rel.values(), reverse=True)[:10]))
    return dcg / ideal if ideal else 0.0


# ------------------------------------------------------------------ engines


class Fts5:
    def __init__(self, folder: Path) -> None:
        self.db = sqlite3.connect(folder / "fts.db")
        self.db.execute(
            "CREATE VIRTUAL TABLE f USING fts5(id UNINDEXED, title, abstract, tokenize='unicode61 remove_diacritics 2')"
        )

    def add(self, docs: list[tuple[str, str, str]]) -> None:
        self.db.executemany(
            "INSERT INTO f VALUES (?,?,?)", [(i, " ".join(analyse(t)), " ".join(analyse(a))) for i, t, a in docs]
        )
        self.db.commit()

    def search(self, q: str, k: int) -> list[str]:
        terms = list(dict.fromkeys(analyse(q)))
        if not terms:
            return []
        match = " OR ".join('"' + t + '"' for t in terms)
        rows = self.db.execute(
            f"SELECT id FROM f WHERE f MATCH ? ORDER BY bm25(f, 0, {TITLE_W}, 1.0) LIMIT ?", (match, k)
        )
        return [r[0] for r in rows]


class Tantivy:
    def __init__(self, folder: Path) -> None:
        sb = tantivy.SchemaBuilder()
        sb.add_text_field("id", stored=True, tokenizer_name="raw")
        sb.add_text_field("title", tokenizer_name="whitespace", index_option="position")
        sb.add_text_field("abstract", tokenizer_name="whitespace", index_option="position")
        self.schema = sb.build()
        self.index = tantivy.Index(self.schema, path=str(folder))

    def add(self, docs: list[tuple[str, str, str]]) -> None:
        w = self.index.writer(heap_size=200_000_000, num_threads=1)
        for i, t, a in docs:
            w.add_document(tantivy.Document(id=i, title=" ".join(analyse(t)), abstract=" ".join(analyse(a))))
        w.commit()
        w.wait_merging_threads()
        self.index.reload()

    def search(self, q: str, k: int) -> list[str]:
        terms = list(dict.fromkeys(analyse(q)))
        subs = []
        for t in terms:
            subs.append(
                (
                    tantivy.Occur.Should,
                    tantivy.Query.boost_query(tantivy.Query.term_query(self.schema, "title", t), TITLE_W),
                )
            )
            subs.append((tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "abstract", t)))
        if not subs:
            return []
        s = self.index.searcher()
        res = s.search(tantivy.Query.boolean_query(subs), k)
        return [s.doc(a)["id"][0] for _, a in res.hits]


class Bm25s:
    def __init__(self, folder: Path, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b, self.ids, self.docs = k1, b, [], []

    def add(self, docs: list[tuple[str, str, str]]) -> None:  # no incremental add: full rebuild
        self.docs += docs
        self.ids = [d[0] for d in self.docs]
        corpus = [analyse(t) * int(TITLE_W) + analyse(a) for _, t, a in self.docs]
        self.model = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        self.model.index(
            bm25s.tokenization.convert_tokenized_to_string_list(corpus) if False else self._tok(corpus),
            show_progress=False,
        )

    def _tok(self, corpus: list[list[str]]) -> bm25s.tokenization.Tokenized:
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in corpus]
        self.vocab = vocab
        return bm25s.tokenization.Tokenized(ids=ids, vocab=vocab)

    def search(self, q: str, k: int) -> list[str]:
        terms = [t for t in dict.fromkeys(analyse(q)) if t in self.vocab]
        if not terms:
            return []
        qt = [[self.vocab[t] for t in terms]]
        docs, _ = self.model.retrieve(
            bm25s.tokenization.Tokenized(ids=qt, vocab=self.vocab),
            k=min(k, len(self.ids)),
            show_progress=False,
            n_threads=1,
        )
        return [self.ids[i] for i in docs[0]]


ENGINES = {"fts5": Fts5, "tantivy": Tantivy, "bm25s": Bm25s}


def quality() -> dict[str, float]:
    docs, qs, qrels = load_scifact()
    out = {}
    for name, cls in ENGINES.items():
        with tempfile.TemporaryDirectory() as tmp:
            eng = cls(Path(tmp))
            eng.add(docs)
            out[name] = round(float(np.mean([ndcg10(eng.search(t, 10), qrels[q]) for q, t in qs.items()])), 4)
            print(f"quality {name}: nDCG@10 {out[name]}", flush=True)
    return out


def speed(n: int, engines: list[str]) -> dict[str, dict[str, float]]:
    docs = [(p.id, p.title, p.abstract) for p in generate(n + 1000)]
    base, extra = docs[:n], docs[n:]
    qs = queries(200)
    out = {}
    for name in engines:
        tmp = Path(tempfile.mkdtemp())
        try:
            eng = ENGINES[name](tmp)
            t0 = time.perf_counter()
            for i in range(0, n, 50_000):
                eng.add(base[i : i + 50_000])
            build = time.perf_counter() - t0
            t0 = time.perf_counter()
            eng.add(extra)
            inc = time.perf_counter() - t0
            lat = []
            for q in qs:
                t0 = time.perf_counter()
                eng.search(q, 100)
                lat.append((time.perf_counter() - t0) * 1000)
            lat.sort()
            out[name] = {
                "build_s": round(build, 1),
                "add_1000_s": round(inc, 2),
                "p50_ms": round(statistics.median(lat), 1),
                "p95_ms": round(lat[int(0.95 * len(lat))], 1),
            }
            print(f"speed {name} n={n}: {out[name]}", flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--engines", default="fts5,tantivy,bm25s")
    ap.add_argument("--skip-quality", action="store_true")
    args = ap.parse_args()
    if not args.skip_quality:
        quality()
    speed(args.n, args.engines.split(","))


if __name__ == "__main__":
    main()

"""Embedding throughput and quality: MiniLM as `paperfeed index` runs it now on a CPU (``search/minilm.py``
``load_minilm``: the path measured fastest on this CPU, ``search/calibration.py``; 192 word pieces) against the
former path (sentence-transformers in float32, 256 word pieces, batches of 64), same papers, same run.

    .venv/bin/python bench/embed.py [--limit N] [--json] [--recalibrate]

Both paths embed the same SciFact corpus papers (all 5,183 by default; the first N with ``--limit``) in the
same run, in alternating chunks of CHUNK papers, so a machine shared with other work slows both alike. Then
hybrid nDCG@10 (the ranking users get) on SciFact train and Cranfield test with each path's vectors; papers
not timed (``--limit``) are embedded through the embedding cache under the data dir. The last line with
``--json`` is one object: papers_per_s, baseline_papers_per_s, ratio, ndcg_delta (SciFact train, new - old),
cran_ndcg_delta, path (the chosen one, with batch, workers, threads), cpu and cpu_flags (the machine that
measured it), papers and the load average before and after. Threads: torch's default (one per core) for the
former path. ``--recalibrate`` measures the paths again first (the choice is otherwise kept per CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.evaluation import retrieval as ev  # noqa: E402
from paperfeed.models import Paper  # noqa: E402
from paperfeed.search.calibration import choice_file, cpu_info, embedding_path  # noqa: E402
from paperfeed.search.dense import DenseIndex, text_hash  # noqa: E402
from paperfeed.search.embed import (  # noqa: E402
    Embedder,
    EmbeddingCache,
    _fingerprint,
    cache_dir,
    minilm_path,
    paper_text,
)
from paperfeed.search.lexical import LexicalDoc, LexicalIndex  # noqa: E402
from paperfeed.search.minilm import MAX_TOKENS, WEIGHT_FILES, load_minilm  # noqa: E402

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
SETS = (("scifact", "train"), ("cran", "test"))
CHUNK = 200  # papers per turn; the baseline embeds each turn's texts in batches of 64, as `paperfeed index` did


class FormerMiniLM:
    """The embedding path before issue 13, as it was: sentence-transformers ``encode`` in float32, 256 word
    pieces, batches of 64, torch on all cores."""

    name, dim = "minilm", 384

    def __init__(self, source: Path) -> None:
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(source), device="cpu", local_files_only=True)
        self._model.max_seq_length = 256
        self.fingerprint = "minilm-" + _fingerprint(source, WEIGHT_FILES)  # the former fingerprint

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        return self._model.encode(list(texts), batch_size=batch_size or 64, normalize_embeddings=True)


def _texts(data: ev.BeirSet) -> list[str]:
    return [paper_text(Paper(id=i, title=t, abstract=x)) for i, t, x in data.corpus]


def timed(texts: list[str], old: Embedder, new: Embedder) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """Embed ``texts`` with both, alternating chunks; returns each one's vectors by text and the timings."""
    spent = {"old": 0.0, "new": 0.0}
    got: dict[str, dict[str, np.ndarray]] = {"old": {}, "new": {}}
    for start in range(0, len(texts), CHUNK):
        chunk = texts[start : start + CHUNK]
        for key, emb in (("old", old), ("new", new)):
            t0 = time.perf_counter()
            vectors = emb.encode(chunk)
            spent[key] += time.perf_counter() - t0
            got[key].update(zip(chunk, vectors, strict=True))
        print(f"  {start + len(chunk)}/{len(texts)} papers", file=sys.stderr, flush=True)
    return got["old"], got["new"], spent


def hybrid_ndcg(data: ev.BeirSet, emb: Embedder, known: dict[str, np.ndarray], settings: Settings) -> float:
    """Hybrid nDCG@10 with ``emb``'s vectors (``known`` ones reused, the rest from the embedding cache)."""
    cache = EmbeddingCache(cache_dir(settings), emb)

    class Reuse:
        name, dim, fingerprint = emb.name, emb.dim, emb.fingerprint

        def encode_queries(self, texts: list[str]) -> np.ndarray:
            return self.encode(texts)

        def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
            missing = [t for t in texts if t not in known]
            if missing:
                known.update(zip(missing, cache.encode(missing), strict=True))
            return np.stack([known[t] for t in texts])

    with tempfile.TemporaryDirectory(prefix="paperfeed-bench-embed-") as tmp:
        lexical = LexicalIndex.open(Path(tmp) / "lexical")
        lexical.add(LexicalDoc(i, t, x) for i, t, x in data.corpus)
        lexical.commit()
        dense = DenseIndex.open(Path(tmp), "minilm")
        dense.prepare(Reuse())
        texts = _texts(data)
        dense.add([i for i, _, _ in data.corpus], Reuse().encode(texts), [text_hash(t) for t in texts])
        dense.commit()
        return ev.run_queries(data, ["hybrid"], lexical, dense, Reuse())["hybrid"]["ndcg@10"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="time only the first N SciFact papers (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--recalibrate", action="store_true", help="measure the MiniLM paths on this CPU again")
    args = parser.parse_args()
    settings = Settings()
    source = minilm_path(settings)
    load_before = [round(x, 2) for x in os.getloadavg()]
    if args.recalibrate:
        choice_file(settings).unlink(missing_ok=True)
    old, new = FormerMiniLM(source), load_minilm(source, device="cpu", model_cache_dir=settings.model_cache_dir)
    chosen = embedding_path(settings) or {}
    path = {k: chosen.get(k) for k in ("path", "batch", "workers", "threads")}
    print(f"new path: {path}, {MAX_TOKENS} word pieces; former: float32, 256", file=sys.stderr)
    sets = {name: ev.load_beir(EVAL / name, split) for name, split in SETS}
    texts = _texts(sets["scifact"])
    texts = texts[: args.limit] if args.limit else texts
    print(f"timing {len(texts)} SciFact papers, both paths, alternating chunks of {CHUNK}", file=sys.stderr)
    old_known, new_known, spent = timed(texts, old, new)
    result: dict[str, object] = {
        "papers_per_s": round(len(texts) / spent["new"], 1),
        "baseline_papers_per_s": round(len(texts) / spent["old"], 1),
    }
    result["ratio"] = round(spent["old"] / spent["new"], 2)
    load_timed = [round(x, 2) for x in os.getloadavg()]
    deltas = {}
    for name, data in sets.items():
        before = hybrid_ndcg(data, old, old_known, settings)
        after = hybrid_ndcg(data, new, new_known, settings)
        deltas[name] = round(after - before, 4)
        print(f"{name}: hybrid nDCG@10 {before:.4f} (former) -> {after:.4f} (now), delta {after - before:+.4f}")
    result["ndcg_delta"] = deltas["scifact"]
    result["cran_ndcg_delta"] = deltas["cran"]
    result.update(path=path, **cpu_info(), papers=len(texts), load_before=load_before, load_after_timing=load_timed)
    print(
        f"{len(texts)} papers: now {result['papers_per_s']} papers/s "
        f"({path['path']}, {MAX_TOKENS} word pieces), "
        f"former {result['baseline_papers_per_s']} papers/s, ratio {result['ratio']}x; Cranfield nDCG delta "
        f"{deltas['cran']:+.4f} ({new.fingerprint})"
    )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()

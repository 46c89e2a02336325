"""Embedders load offline from the installed packages, distil the static model, and cache honestly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from paperfeed.config import Settings
from paperfeed.search.embed import (
    EMBEDDERS_AVAILABLE,
    EmbedderError,
    EmbeddingCache,
    get_embedder,
    paper_text,
)
from tests.factories import make_paper

pytestmark = [pytest.mark.model, pytest.mark.skipif(not EMBEDDERS_AVAILABLE, reason="the ml extra is not installed")]

TEXTS = [
    "Graph neural networks predict molecular properties of drug candidates.",
    "Message passing networks on molecular graphs for chemistry.",
    "Wind tunnel measurements of turbulent flow over swept aircraft wings.",
]


@pytest.fixture(scope="session")
def model_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose static model is distilled once per session, through the CLI, with 64 dims."""
    data = tmp_path_factory.mktemp("models")
    out = data / "static64"
    from paperfeed.cli import app

    result = CliRunner().invoke(
        app,
        ["distill", "--out", str(out), "--pca-dims", "64", "--json"],
        env={"PAPERFEED_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["dim"] == 64 and Path(report["path"]) == out
    return Settings(
        _env_file=None,
        data_dir=data,
        static_model_path=str(out),  # type: ignore[call-arg]
        embedder="static",
        environment="test",
    )


def _openvino_int8(settings: Settings) -> Any:
    """The OpenVINO int8 MiniLM, made (or found) in the shared model cache, whichever path this CPU runs."""
    from paperfeed.search import minilm_int8
    from paperfeed.search.embed import minilm_path
    from paperfeed.search.minilm import MAX_TOKENS, MiniLMEmbedder, minilm_fingerprint

    if not minilm_int8.OPENVINO_AVAILABLE:
        pytest.skip("openvino and nncf are not installed")
    source = minilm_path(settings)
    reference = MiniLMEmbedder(source, device="cpu", precision="float32").encode
    folder = minilm_int8.build(source, minilm_int8.model_cache(""), MAX_TOKENS, reference, print)
    return minilm_int8.Int8MiniLM(source, folder, minilm_fingerprint(source), MAX_TOKENS)


def _check_rows(v: np.ndarray, n: int, dim: int) -> None:
    assert v.shape == (n, dim) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_minilm_loads_offline_and_ranks_related_text_higher(model_settings: Settings) -> None:
    emb = get_embedder("minilm", model_settings)
    assert emb.name == "minilm" and emb.dim == 384
    v = emb.encode(TEXTS)
    _check_rows(v, 3, 384)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    assert emb.encode([]).shape == (0, 384)
    assert get_embedder("minilm", model_settings) is emb  # loaded once per process


def test_minilm_runs_in_bfloat16_where_the_cpu_has_it_and_agrees_with_float32(model_settings: Settings) -> None:
    """The fast path gives the vectors of the float32 path (same fingerprint), cut at 192 word pieces."""
    from paperfeed.search.embed import minilm_path
    from paperfeed.search.minilm import MAX_TOKENS, MiniLMEmbedder, cpu_has_native_bf16

    source = minilm_path(model_settings)
    fast = MiniLMEmbedder(source, device="cpu")
    exact = MiniLMEmbedder(source, device="cpu", precision="float32")
    assert fast.precision == ("bfloat16" if cpu_has_native_bf16() else "float32")
    assert fast.fingerprint == exact.fingerprint and fast.fingerprint.endswith(f"-t{MAX_TOKENS}")
    long_text = "Stochastic gradient descent with momentum on non-convex objectives. " * 40
    texts = [*TEXTS, long_text, long_text + " A different ending far beyond the first 192 word pieces."]
    a, b = fast.encode(texts), exact.encode(texts)
    _check_rows(a, 5, 384)
    assert np.min(np.sum(a * b, axis=1)) > 0.999
    assert np.allclose(b[3], b[4], atol=1e-6)  # only the first MAX_TOKENS word pieces are read


def test_minilm_on_a_cpu_is_int8_made_once_and_agrees_with_float32(model_settings: Settings) -> None:
    """The OpenVINO int8 path: MiniLM quantised with NNCF, built once per machine into the model cache, close
    to the float32 vectors, under its own fingerprint (never mixed with float32 vectors)."""
    from paperfeed.search import minilm_int8
    from paperfeed.search.embed import minilm_path
    from paperfeed.search.minilm import MAX_TOKENS, MiniLMEmbedder

    fast = _openvino_int8(model_settings)
    assert fast.precision == "int8"
    source = minilm_path(model_settings)
    exact = MiniLMEmbedder(source, device="cpu", precision="float32")
    assert fast.fingerprint.startswith(exact.fingerprint + "-ovint8-")
    folder = minilm_int8.model_folder(source, minilm_int8.model_cache(""), MAX_TOKENS)
    made = (folder / "paperfeed.json").stat().st_mtime
    again = _openvino_int8(model_settings)  # found in the cache, not made again
    assert (folder / "paperfeed.json").stat().st_mtime == made
    reference = exact.encode(TEXTS * 12)
    got = again.encode(TEXTS * 12)  # more than one batch: the parallel path
    _check_rows(got, 36, 384)
    cosines = np.sum(reference * got, axis=1)
    assert cosines.min() > 0.98 and cosines.mean() > 0.99
    assert np.allclose(got[:3], again.encode(TEXTS), atol=2e-2)  # a query gives the vector its paper got
    assert got[0] @ got[1] > got[0] @ got[2] + 0.2


def test_onnxruntime_int8_is_made_once_and_agrees_with_float32_alone_and_in_batches(model_settings: Settings) -> None:
    """The ONNX Runtime int8 path (the fast one on AVX2-only CPUs): made once per machine, its own
    fingerprint, vectors within 0.99 of float32 whether a text comes alone or in parallel batches."""
    from paperfeed.search import minilm_onnx
    from paperfeed.search.embed import minilm_path
    from paperfeed.search.minilm import MAX_TOKENS, MiniLMEmbedder, minilm_fingerprint
    from paperfeed.search.minilm_int8 import model_cache

    if not minilm_onnx.ONNXRUNTIME_AVAILABLE:
        pytest.skip("onnxruntime and onnx are not installed")
    source = minilm_path(model_settings)
    exact = MiniLMEmbedder(source, device="cpu", precision="float32")
    folder = minilm_onnx.build(source, model_cache(""), MAX_TOKENS, exact.encode, print)
    made = (folder / "paperfeed.json").stat().st_mtime
    assert minilm_onnx.build(source, model_cache(""), MAX_TOKENS, exact.encode, print) == folder
    assert (folder / "paperfeed.json").stat().st_mtime == made
    fast = minilm_onnx.OrtInt8MiniLM(source, folder, minilm_fingerprint(source), MAX_TOKENS, workers=2, threads=1)
    assert fast.fingerprint.startswith(exact.fingerprint + "-ortint8-")
    long = "Stochastic gradient descent with momentum on non-convex objectives. " * 40
    texts = [*TEXTS, long] * 10
    got = fast.encode(texts)
    _check_rows(got, 40, 384)
    assert np.min(np.sum(exact.encode(texts) * got, axis=1)) >= 0.99
    alone = np.vstack([fast.encode([t]) for t in texts[:4]])  # activations are scaled per batch: near, not equal
    assert np.min(np.sum(alone * got[:4], axis=1)) > 0.99
    assert got[0] @ got[1] > got[0] @ got[2] + 0.2


def test_int8_batches_of_abstracts_agree_with_float32_and_with_each_text_alone(model_settings: Settings) -> None:
    """Batches whose texts reach the word-piece cut run on the fixed-shape model (filler rows pad the last
    one); the rest and queries on the dynamic one. Every path gives each text its own vector."""
    from paperfeed.search.embed import minilm_path
    from paperfeed.search.minilm import MiniLMEmbedder

    fast = _openvino_int8(model_settings)
    source = minilm_path(model_settings)
    topics = ["protein folding", "sparse attention", "glacier melt", "bond pricing", "soil microbes"]
    long = [
        f"A study of {t}, number {k}. " + f"We measure {t} in {k + 3} settings and report what changes. " * 25
        for k, t in enumerate(topics * 7)
    ]  # 35 texts far past the cut: two full batches and a short one
    texts = long + TEXTS * 3
    got = fast.encode(texts)
    _check_rows(got, len(texts), 384)
    exact = MiniLMEmbedder(source, device="cpu", precision="float32").encode(texts)
    assert np.min(np.sum(exact * got, axis=1)) > 0.98
    alone = np.vstack([fast.encode([t]) for t in texts[:6] + texts[-3:]])
    assert np.min(np.sum(alone * np.vstack([got[:6], got[-3:]]), axis=1)) > 0.99
    assert got[0] @ got[5] > got[0] @ got[1]  # the same topic is nearer than another one


def test_int8_embedders_are_freed_after_batches_without_hanging(model_settings: Settings) -> None:
    """A server swaps or drops its embedder, and the int8 build frees the model it verified: freeing a model
    right after a batch of papers must never wait forever (with OpenVINO callbacks it hung within 7 rounds)."""
    import subprocess
    import sys

    from paperfeed.search import minilm_int8
    from paperfeed.search.embed import minilm_path
    from paperfeed.search.minilm import MAX_TOKENS

    _openvino_int8(model_settings)  # made (or found) in the shared cache
    source = minilm_path(model_settings)
    folder = minilm_int8.model_folder(source, minilm_int8.model_cache(""), MAX_TOKENS)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from paperfeed.search.minilm import CHECK_TEXTS\n"
        "from paperfeed.search.minilm_int8 import Int8MiniLM\n"
        "for k in range(10):\n"
        "    model = Int8MiniLM(Path(sys.argv[1]), Path(sys.argv[2]), '', int(sys.argv[3]))\n"
        "    model.encode(list(CHECK_TEXTS) * 16)\n"
        "    del model\n"
        "print('freed 10')\n"
    )
    args = [sys.executable, "-c", script, str(source), str(folder), str(MAX_TOKENS)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "freed 10" in done.stdout


def test_word_pieces_read_only_the_first_words_and_equal_the_whole_text_tokenized(model_settings: Settings) -> None:
    """Words past the cut are never tokenized, yet the pieces are exactly those of the whole text, also when
    words vanish in BERT's normaliser (control characters, combining accents, no-break spaces)."""
    import random

    from paperfeed.search import minilm_int8
    from paperfeed.search.embed import minilm_path

    tokenizer = minilm_int8._tokenizer(minilm_path(model_settings), 32)
    rng = random.Random(7)
    vanishing = ["\u0301\u0301", "\x1f", "\u00a0", "\u200b", "\x00", "\u3000", "\x85", "\u2028"]
    texts = ["", "one", "Attention is all you need.", "word " * 31, "word " * 40, "α-helix 中文 " * 30]
    for _ in range(300):
        words = [rng.choice(vanishing + ["graph", "a", "x-ray", "über"]) for _ in range(rng.randint(1, 80))]
        texts.append(rng.choice([" ", "\t", "\n", "  "]).join(words))
    whole = [enc.ids for enc in tokenizer.encode_batch(texts)]
    assert minilm_int8.word_pieces(tokenizer, texts, 32) == whole
    assert max(len(ids) for ids in whole) == 32


def test_making_the_int8_model_reports_nothing_to_openvino_or_nncf_telemetry(tmp_path: Path) -> None:
    """OpenVINO's converter and NNCF send usage events to Google Analytics by default (no consent file means
    yes) and write a client id under ``~/intel``; the way the int8 build runs them does neither."""
    import os
    import subprocess
    import sys

    from paperfeed.search import minilm_int8

    if not minilm_int8.OPENVINO_AVAILABLE:
        pytest.skip("openvino and nncf are not installed")
    script = (
        "from paperfeed.search.minilm_int8 import without_telemetry; without_telemetry()\n"
        "import openvino as ov, torch\n"
        "ov.convert_model(torch.nn.Linear(2, 2), example_input=torch.ones(1, 2))\n"
        "import nncf\n"
        "from nncf.telemetry.wrapper import telemetry\n"
        "print('consent', telemetry._impl.consent)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL")}  # as on a laptop
    env["HOME"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "consent False" in done.stdout
    assert not (tmp_path / "intel").exists()  # no client id, no usage counter


def test_a_damaged_int8_model_is_never_chosen(model_settings: Settings, tmp_path: Path) -> None:
    """An int8 model that cannot be loaded is measured as unavailable; MiniLM runs on another path."""
    import shutil

    from paperfeed.search import minilm_int8, minilm_onnx
    from paperfeed.search.calibration import CHOICE_FILE
    from paperfeed.search.embed import minilm_path
    from paperfeed.search.minilm import MAX_TOKENS, load_minilm

    built = _openvino_int8(model_settings)  # made (or found) in the shared cache
    source = minilm_path(model_settings)
    del built
    for module in (minilm_int8, minilm_onnx):
        if module is minilm_onnx and not minilm_onnx.ONNXRUNTIME_AVAILABLE:
            continue
        folder = module.model_folder(source, minilm_int8.model_cache(""), MAX_TOKENS)
        if folder.is_dir():
            shutil.copytree(folder, tmp_path / folder.name, ignore=shutil.ignore_patterns("compiled"))
    damaged = minilm_int8.model_folder(source, tmp_path, MAX_TOKENS)
    (damaged / "model.xml").write_text("<net><layers><layer id=")  # cut short
    emb = load_minilm(source, device="cpu", model_cache_dir=str(tmp_path))
    assert not isinstance(emb, minilm_int8.Int8MiniLM)
    trials = {t["path"]: t for t in json.loads((tmp_path / CHOICE_FILE).read_text())["trials"]}
    assert "cannot load" in trials["openvino-int8"]["error"]
    _check_rows(emb.encode(TEXTS), 3, 384)


def test_static_model_is_distilled_offline_and_matches_model2vec(model_settings: Settings) -> None:
    emb = get_embedder("static", model_settings)
    assert emb.name == "static" and emb.dim == 64
    texts = [*TEXTS, "Naïve Bayes — über-fast café α-helix", "", "!!!"]
    v = emb.encode(texts)
    _check_rows(v[:4], 4, 64)
    assert not v[4].any()  # empty text: a zero vector, which matches nothing
    assert v[0] @ v[1] > v[0] @ v[2]
    reference = emb._model.encode(texts[:4], use_multiprocessing=False)  # type: ignore[attr-defined]
    reference = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    assert np.all(np.sum(reference * v[:4], axis=1) > 0.99)


def test_fingerprints_tell_models_apart(model_settings: Settings) -> None:
    static, minilm = get_embedder("static", model_settings), get_embedder("minilm", model_settings)
    assert static.fingerprint != minilm.fingerprint
    assert static.fingerprint.startswith("static-") and minilm.fingerprint.startswith("minilm-")


def test_unknown_or_missing_models_give_clear_errors(model_settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="minilm, static"):
        get_embedder("bert", model_settings)
    broken = model_settings.model_copy(update={"minilm_path": str(tmp_path / "nowhere")})
    with pytest.raises(EmbedderError, match="PAPERFEED_MINILM_PATH"):
        get_embedder("minilm", broken)


def test_embedding_cache_reuses_vectors_across_runs(model_settings: Settings, tmp_path: Path) -> None:
    emb = get_embedder("static", model_settings)
    seen: list[str] = []

    class Counting:
        name, dim, fingerprint = emb.name, emb.dim, emb.fingerprint

        def encode_queries(self, texts: list[str]) -> np.ndarray:
            return self.encode(texts)

        def encode(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
            seen.extend(texts)
            return emb.encode(texts)

    cache = EmbeddingCache(tmp_path / "cache", Counting())
    first = cache.encode(TEXTS + TEXTS[:1])
    assert len(seen) == 3  # the repeated text is embedded once
    again = EmbeddingCache(tmp_path / "cache", Counting()).encode(TEXTS[::-1])
    assert len(seen) == 3  # a new process reads the vectors from disk
    assert np.allclose(again, first[:3][::-1])
    assert np.allclose(first, emb.encode(TEXTS + TEXTS[:1]), atol=1e-6)


def test_paper_text_is_title_then_abstract() -> None:
    p = make_paper(title="  Attention   Is All You Need ", abstract="We propose\nthe Transformer.")
    assert paper_text(p) == "Attention Is All You Need. We propose the Transformer."
    assert paper_text(make_paper(title="Only a title", abstract="")) == "Only a title"


def test_serving_the_int8_model_reports_nothing_and_leaves_no_defunct_child(
    model_settings: Settings, tmp_path: Path
) -> None:
    """Merely importing OpenVINO and making a ``Core`` sends a usage event from a child process that nobody
    reaps: every server worker kept a defunct child for its whole life. Loading the int8 model for serving
    (what each worker does) sends nothing, writes no client id under ``~/intel`` and starts no process."""
    import os
    import subprocess
    import sys

    from paperfeed.search import minilm_int8
    from paperfeed.search.embed import minilm_path
    from paperfeed.search.minilm import MAX_TOKENS

    _openvino_int8(model_settings)  # made (or found) in the shared cache
    source = minilm_path(model_settings)
    folder = minilm_int8.model_folder(source, minilm_int8.model_cache(""), MAX_TOKENS)
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from paperfeed.search.minilm_int8 import Int8MiniLM\n"
        "model = Int8MiniLM(Path(sys.argv[1]), Path(sys.argv[2]), '', int(sys.argv[3]))\n"
        "model.encode(['a paper about graphs'])\n"
        "from openvino_telemetry.utils.opt_in_checker import OptInChecker\n"
        "print('consent', OptInChecker().check(False, False).name)\n"
        "tasks = Path(f'/proc/{os.getpid()}/task')\n"
        "kids = [c for t in tasks.iterdir() for c in (t / 'children').read_text().split()]\n"
        "print('children', len(kids))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL")}  # as on a laptop
    env["HOME"] = str(tmp_path)
    args = [sys.executable, "-c", script, str(source), str(folder), str(MAX_TOKENS)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "consent DECLINED" in done.stdout and "children 0" in done.stdout
    assert not (tmp_path / "intel").exists()  # no client id: nothing was reported

"""MiniLM runs on the path measured fastest on this CPU among those that agree with float32, and the choice is
remembered per CPU (model name and flags) and measured again when the CPU changes."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pytest

from paperfeed.config import Settings
from paperfeed.search import calibration
from paperfeed.search.calibration import Candidate, calibrate, embedding_path, fastest

TEXTS = [f"Paper {k} about {topic}." for k, topic in enumerate(["graphs", "proteins", "glaciers", "bonds"] * 5)]
HERE = {"cpu": "Test CPU 9000", "cpu_flags": ["avx2"]}


def _vector(text: str) -> np.ndarray:
    seed = int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)
    v = np.random.default_rng(seed).standard_normal(16).astype(np.float32)
    return v / np.linalg.norm(v)


class Fake:
    """An embedder that sleeps ``per_text`` seconds a text; ``noise`` moves its vectors away from the exact ones."""

    name, dim = "minilm", 16

    def __init__(self, label: str, per_text: float, noise: float = 0.0) -> None:
        self.fingerprint = f"minilm-{label}"
        self.per_text, self.noise, self.calls = per_text, noise, 0

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        self.calls += 1
        time.sleep(self.per_text * len(texts))
        rows = np.stack([_vector(t) for t in texts])
        if self.noise:
            rows = rows + self.noise * np.stack([_vector(t[::-1]) for t in texts])
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


class Paths:
    """Candidates over fakes, counting how often each is made: float32 (slow), an int8 that agrees (fast), and
    a wrong one that is fastest of all."""

    def __init__(self) -> None:
        self.reference = Fake("float32", 0.002)
        self.made: list[str] = []
        self.models = {"float32": self.reference, "good": Fake("good", 0.0005, noise=0.05), "wrong": Fake("wrong", 0.0)}
        self.models["wrong"].noise = 3.0  # cosine with float32 far below 0.99

    def _make(self, name: str) -> Fake:
        self.made.append(name)
        return self.models[name]

    def candidates(self, wrong: bool = True) -> list[Candidate]:
        found = [
            Candidate("torch-float32", 64, 2, 1, lambda: self._make("float32")),
            Candidate("onnxruntime-int8", 16, 2, 1, lambda: self._make("good")),
        ]
        if wrong:
            found.append(Candidate("broken-int8", 16, 1, 2, lambda: self._make("wrong")))
        return found

    def choose(self, file: Path, cpu: dict | None = None, key: str = "k1") -> tuple[Fake, dict]:
        model, data = fastest(
            file=file,
            key=key,
            reference=lambda: self.reference,
            candidates=self.candidates(),
            texts=TEXTS,
            cpu=cpu or HERE,
        )
        assert isinstance(model, Fake)
        return model, data


def test_a_path_that_disagrees_with_float32_is_never_chosen_however_fast() -> None:
    paths = Paths()
    chosen, model, trials = calibrate(paths.reference, paths.candidates(), TEXTS)
    assert chosen.path == "onnxruntime-int8" and model is paths.models["good"]
    by_path = {t.path: t for t in trials}
    assert by_path["broken-int8"].papers_per_s > by_path["onnxruntime-int8"].papers_per_s  # it was the fastest
    assert by_path["broken-int8"].min_cosine < 0.99 and not by_path["broken-int8"].agrees
    assert by_path["onnxruntime-int8"].min_cosine >= 0.99 and by_path["torch-float32"].min_cosine == 1.0
    assert all(t.query_ms is not None for t in trials)


def test_when_nothing_but_float32_agrees_float32_is_used() -> None:
    paths = Paths()
    paths.models["good"].noise = 3.0
    chosen, model, _ = calibrate(paths.reference, paths.candidates(), TEXTS)
    assert chosen.path == "torch-float32" and model is paths.reference


def test_a_path_that_fails_to_load_is_reported_and_skipped() -> None:
    paths = Paths()

    def broken() -> Fake:
        raise RuntimeError("no such engine")

    candidates = [*paths.candidates(wrong=False), Candidate("openvino-int8", 16, 0, 0, broken)]
    chosen, _, trials = calibrate(paths.reference, candidates, TEXTS)
    assert chosen.path == "onnxruntime-int8"
    assert trials[-1].error == "RuntimeError: no such engine" and trials[-1].papers_per_s is None


def test_the_choice_is_kept_and_reused_on_the_same_cpu(tmp_path: Path) -> None:
    file = tmp_path / "models" / "embedding-path.json"
    paths = Paths()
    model, data = paths.choose(file)
    assert model is paths.models["good"] and sorted(paths.made) == ["float32", "good", "wrong"]
    saved = json.loads(file.read_text())
    assert saved["cpu"] == "Test CPU 9000" and saved["cpu_flags"] == ["avx2"]
    assert saved["choice"]["path"] == "onnxruntime-int8" and saved["choice"]["papers_per_s"] > 0
    assert len(saved["trials"]) == 3 and data == saved

    again = Paths()  # a new process on the same CPU: only the chosen path is made, nothing is timed
    model, _ = again.choose(file)
    assert model is again.models["good"] and again.made == ["good"]
    assert again.reference.calls == 0 and again.models["good"].calls == 0


def test_the_choice_is_measured_again_when_the_cpu_flags_change(tmp_path: Path) -> None:
    file = tmp_path / "embedding-path.json"
    Paths().choose(file)
    moved = Paths()
    amx = {"cpu": "Test CPU 9000", "cpu_flags": ["avx2", "avx512f", "amx_bf16", "amx_int8"]}
    moved.models["good"].noise = 3.0  # on the new CPU the int8 path no longer agrees
    model, data = moved.choose(file, cpu=amx)
    assert moved.reference.calls > 0 and sorted(moved.made) == ["float32", "good", "wrong"]
    assert model is moved.reference and data["choice"]["path"] == "torch-float32"
    assert json.loads(file.read_text())["cpu_flags"] == amx["cpu_flags"]
    other = Paths()  # and again for another CPU model or new weights (another key)
    other.choose(file, cpu={**amx, "cpu": "Another CPU"})
    assert other.reference.calls > 0
    newer = Paths()
    newer.choose(file, cpu={**amx, "cpu": "Another CPU"}, key="k2")
    assert newer.reference.calls > 0


@pytest.mark.parametrize("garbage", ["not json {", "[1, 2]", '{"format": 1, "choice": "x"}', ""])
def test_a_damaged_choice_file_is_measured_again(tmp_path: Path, garbage: str) -> None:
    file = tmp_path / "embedding-path.json"
    file.write_text(garbage)
    paths = Paths()
    model, _ = paths.choose(file)
    assert model is paths.models["good"] and paths.reference.calls > 0
    assert json.loads(file.read_text())["choice"]["path"] == "onnxruntime-int8"


def test_a_cached_path_that_no_longer_loads_is_measured_again(tmp_path: Path) -> None:
    file = tmp_path / "embedding-path.json"
    Paths().choose(file)
    later = Paths()
    calls = {"n": 0}

    def gone() -> Fake:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("model folder removed")
        return later.models["good"]

    candidates = [later.candidates()[0], Candidate("onnxruntime-int8", 16, 2, 1, gone)]
    model, _ = fastest(
        file=file, key="k1", reference=lambda: later.reference, candidates=candidates, texts=TEXTS, cpu=HERE
    )
    assert model is later.models["good"] and later.reference.calls > 0


def test_embedding_path_reads_the_choice_without_loading_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", model_cache_dir=str(tmp_path / "models"))  # type: ignore[call-arg]
    assert embedding_path(settings) is None
    monkeypatch.setattr(calibration, "cpu_info", lambda: dict(HERE))
    Paths().choose(calibration.choice_file(settings))
    got = embedding_path(settings)
    assert got is not None
    assert got["path"] == "onnxruntime-int8" and got["batch"] == 16 and got["workers"] == 2 and got["threads"] == 1
    assert got["papers_per_s"] > 0 and got["cpu"] == "Test CPU 9000" and got["cpu_flags"] == ["avx2"]
    assert got["current"] is True
    monkeypatch.setattr(calibration, "cpu_info", lambda: {"cpu": "Test CPU 9000", "cpu_flags": ["avx2", "avx_vnni"]})
    assert embedding_path(settings)["current"] is False  # type: ignore[index]


def test_cpu_info_names_the_cpu_and_only_the_relevant_flags() -> None:
    info = calibration.cpu_info()
    assert isinstance(info["cpu"], str) and info["cpu"]
    assert set(info["cpu_flags"]) <= set(calibration.RELEVANT_FLAGS)


@pytest.mark.model
def test_the_real_paths_are_measured_and_the_chosen_one_agrees_with_float32(tmp_path: Path) -> None:
    """On this machine every available MiniLM path is timed on a few abstracts, and the chosen one agrees with
    the float32 model (a query's time is only checked loosely: the test machine is shared)."""
    from paperfeed.search.embed import EMBEDDERS_AVAILABLE, minilm_path
    from paperfeed.search.minilm import _Reference, cpu_candidates
    from paperfeed.search.minilm_int8 import _calibration_texts, model_cache

    if not EMBEDDERS_AVAILABLE:
        pytest.skip("the ml extra is not installed")
    source = minilm_path(Settings(_env_file=None))  # type: ignore[call-arg]
    reference = _Reference(source)
    candidates = cpu_candidates(source, model_cache(""), reference)  # int8 models from the shared cache
    texts = _calibration_texts()[:20]
    model, data = fastest(
        file=tmp_path / "embedding-path.json", key="test", reference=reference.get, candidates=candidates, texts=texts
    )
    assert len(data["trials"]) == len(candidates) and data["cpu"] == calibration.cpu_info()["cpu"]
    exact = reference.get().encode(texts)
    assert float(np.min(np.sum(exact * model.encode(texts), axis=1))) >= 0.99
    assert data["choice"]["query_ms"] < 100

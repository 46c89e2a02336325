"""The ONNX int8 MiniLM: exported once from the shipped weights, verified against torch, falls back visibly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paperfeed.config import Settings
from paperfeed.search.embed import EMBEDDERS_AVAILABLE, MiniLMEmbedder, minilm_path

onnx_embed = pytest.importorskip("paperfeed.search.onnx_embed")
pytestmark = pytest.mark.skipif(
    not (EMBEDDERS_AVAILABLE and onnx_embed.ONNX_AVAILABLE), reason="needs the ml extra (torch, onnxruntime)"
)

TEXTS = [
    "Sparse attention for long documents.",
    "Protein folding with deep learning: AlphaFold predicts structures from sequences. " * 5,
]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, object]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("onnx-data"), embedder="none")
    return settings, onnx_embed.onnx_minilm_or_torch(settings, minilm_path(settings))


def test_int8_vectors_match_torch_and_name_their_variant(made: tuple[Settings, object]) -> None:
    settings, emb = made
    assert isinstance(emb, onnx_embed.OnnxMiniLM)
    torch_emb = MiniLMEmbedder(minilm_path(settings))
    got, ref = emb.encode(TEXTS), torch_emb.encode(TEXTS)
    assert got.shape == (2, 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(got * ref, axis=1))) > 0.98
    # different numbers from torch: a different fingerprint, so an index never mixes the two
    assert emb.fingerprint.startswith(torch_emb.fingerprint + "-int8-")
    folder = onnx_embed.onnx_folder(settings, minilm_path(settings))
    assert (folder / "model-int8.onnx").is_file() and (folder / "paperfeed.json").is_file()
    # same text, same vector, whatever it is embedded with
    assert np.array_equal(emb.encode([TEXTS[0]])[0], got[0])


def test_fp32_variant_keeps_the_torch_fingerprint(made: tuple[Settings, object]) -> None:
    settings, _ = made
    source = minilm_path(settings)
    fp32 = onnx_embed.OnnxMiniLM(source, onnx_embed.onnx_folder(settings, source), "fp32")
    torch_emb = MiniLMEmbedder(source)
    assert fp32.fingerprint == torch_emb.fingerprint
    assert float(np.min(np.sum(fp32.encode(TEXTS) * torch_emb.encode(TEXTS), axis=1))) > 0.9999


def test_falls_back_to_torch_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocked = tmp_path / "data"
    blocked.mkdir()
    (blocked / "models").write_text("not a folder")  # the export cannot be written here
    settings = Settings(data_dir=blocked, embedder="none")
    emb = onnx_embed.onnx_minilm_or_torch(settings, minilm_path(settings))
    assert isinstance(emb, MiniLMEmbedder)
    assert "warning: fast ONNX MiniLM unavailable" in capsys.readouterr().err
    assert emb.encode(TEXTS[:1]).shape == (1, 384)

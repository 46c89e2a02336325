"""Related-paper evaluation: ``paperfeed eval-similar`` and ``paperfeed eval-foryou``, thin wrappers over
:mod:`paperfeed.evaluation.related` (protocol in ``../shared/eval/cacm-cites/README.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paperfeed.cli import app
from paperfeed.cli.common import JsonOption, console, fail, get_settings, print_json
from paperfeed.search.embed import EMBEDDER_NAMES, EmbedderError

FolderArg = Annotated[
    Path,
    typer.Argument(metavar="DIR", help="Citation set: corpus.jsonl[.gz] and qrels/links.tsv.", show_default=False),
]
ModelOption = Annotated[str, typer.Option("--model", help="Embedding model: minilm, static or none.")]


def _run(folder: Path, which: str, model: str) -> dict[str, dict[str, float]]:
    from paperfeed.evaluation.related import run
    from paperfeed.evaluation.retrieval import EvalError

    if model != "none" and model not in EMBEDDER_NAMES:
        fail(f"--model must be one of: {', '.join(EMBEDDER_NAMES)}, none (got {model!r})")
    try:
        return run(
            folder,
            which=which,
            settings=get_settings(),
            model=None if model == "none" else model,
            log=lambda msg: console.print(msg, highlight=False, markup=False),
        )
    except (EvalError, EmbedderError) as exc:
        fail(str(exc))


def _table(result: dict[str, dict[str, float]], metrics: tuple[str, str], count: str) -> None:
    typer.echo(f"{'ranking':<10} {metrics[0]:>10} {metrics[1]:>11} {count:>10}")
    for name, got in result.items():
        typer.echo(f"{name:<10} {got[metrics[0]]:>10.4f} {got[metrics[1]]:>11.4f} {int(got[count]):>10}")


@app.command("eval-similar")
def eval_similar(folder: FolderArg, model: ModelOption = "minilm", as_json: JsonOption = False) -> None:
    """Evaluate similar papers on a citation set: NDCG@20 and Recall@100 for each signal, the naive RRF of a
    plain BM25 and the embedding, and the shipped ranking before (fused) and after (fused_cut) its cut."""
    result = _run(folder, "similar", model)
    if as_json:
        print_json(result)
        return
    _table(result, ("ndcg@20", "recall@100"), "queries")


@app.command("eval-foryou")
def eval_foryou(folder: FolderArg, model: ModelOption = "minilm", as_json: JsonOption = False) -> None:
    """Evaluate "for you" on a citation set: half of a paper's links as the library, Recall@20 and NDCG@20 of
    the hidden half, for each signal alone, fused, and the naive RRF of the library's centroid and words."""
    result = _run(folder, "foryou", model)
    if as_json:
        print_json(result)
        return
    _table(result, ("recall@20", "ndcg@20"), "libraries")

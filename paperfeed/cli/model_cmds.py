"""Model commands: ``paperfeed distill`` makes the static embedding model from the local MiniLM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paperfeed.cli import app
from paperfeed.cli.common import JsonOption, console, fail, get_settings, print_json
from paperfeed.search.embed import DEFAULT_PCA_DIMS, EmbedderError, distill_static, get_embedder


@app.command()
def distill(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder for the model (default: PAPERFEED_STATIC_MODEL_PATH, else <data dir>/models/static)."
        ),
    ] = None,
    pca_dims: Annotated[
        int, typer.Option("--pca-dims", min=2, max=384, help="Dimensions kept by PCA (MiniLM has 384).")
    ] = DEFAULT_PCA_DIMS,
    as_json: JsonOption = False,
) -> None:
    """Distil the `static` embedding model (model2vec) from all-MiniLM-L6-v2, offline.

    Replaces a model already there; vectors made by the old one are re-embedded by the next `paperfeed index`.
    """
    settings = get_settings()
    try:
        path = distill_static(
            settings, out, pca_dims=pca_dims, log=lambda msg: console.print(msg, highlight=False, markup=False)
        )
        if out is not None:
            settings = settings.model_copy(update={"static_model_path": str(out)})
        embedder = get_embedder("static", settings)
    except EmbedderError as exc:
        fail(str(exc))
    if as_json:
        print_json({"path": str(path), "dim": embedder.dim, "fingerprint": embedder.fingerprint})
        return
    typer.echo(f"static model ({embedder.dim} dims) saved in {path}")

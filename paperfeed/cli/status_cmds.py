"""``paperfeed status``: what this instance holds and how ready its search is, in one look.

Sections are listed in ``STATUS_SECTIONS`` (name, function of settings and engine); ``search`` fills the top
level (``papers``, ``lexical_docs``, ``vectors``, ``model``, ``pending``, ``state``), and other parts of
Paperfeed add their own keyed section (the harvester's, for example) by appending to the list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from sqlalchemy import Engine

from paperfeed.cli import app
from paperfeed.cli.common import DbOption, JsonOption, get_engine, get_settings, print_json
from paperfeed.config import Settings
from paperfeed.ids import parse_follow
from paperfeed.ingest.follow_status import harvest_status
from paperfeed.search.status import index_status

StatusSection = Callable[[Settings, Engine], dict[str, Any]]
# (key, section): key None merges the section into the top level (the search figures do).
STATUS_SECTIONS: list[tuple[str | None, StatusSection]] = [
    (None, lambda settings, engine: index_status(settings, engine)),
    # The arXiv follower (paperfeed serve --follow): what the harvesting worker last recorded.
    ("harvest", lambda settings, engine: harvest_status(engine=engine, following=parse_follow(settings.follow))),
    # EMBEDDING: which MiniLM path this machine measured fastest, and its rate (search/calibration.py)
    ("embedding", lambda settings, engine: _embedding(settings)),
]
STATE_TEXT = {
    "ready": "ready: every paper searchable by words and by meaning",
    "building": "building: some papers are not searchable by meaning yet (see pending)",
    "damaged": "damaged: index files are damaged; `paperfeed index --check` names them, `paperfeed index` rebuilds",
    "off": "off: no embedding model, keyword search only",
}


def _embedding(settings: Settings) -> dict[str, Any]:
    """The embedding path and its measured rate (read from the choice file: no model is loaded)."""
    if settings.embedder != "minilm":
        return {"path": f"{settings.embedder} (no MiniLM path to choose)"}
    from paperfeed.search.calibration import embedding_path

    found = embedding_path(settings)
    if found is None:
        return {"path": "not measured yet (measured once per CPU when MiniLM first embeds papers)"}
    return found


def collect_status(settings: Settings, engine: Engine) -> dict[str, Any]:
    """Every section's figures in one document (what ``paperfeed status --json`` prints)."""
    data: dict[str, Any] = {}
    for key, section in STATUS_SECTIONS:
        if key is None:
            data.update(section(settings, engine))
        else:
            data[key] = section(settings, engine)
    return data


def _words(value: Any) -> str:
    """A value as a person reads it: ``none`` for nothing, lists joined, ``yes``/``no``, never Python's repr."""
    if value is None or value == [] or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_words(v) for v in value)
    return str(value)


def _plain(data: dict[str, Any]) -> list[str]:
    lines = [
        f"papers:         {data['papers']:,}",
        f"keyword index:  {data['lexical_docs']:,} papers",
        f"vectors:        {data['vectors']:,} ({data['model']})",
        f"pending:        {data['pending']:,}",
        f"state:          {STATE_TEXT.get(data['state'], data['state'])}",
    ]
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines.extend(f"  {k}: {_words(v)}" for k, v in value.items())
    return lines


@app.command()
def status(db: DbOption = None, as_json: JsonOption = False) -> None:
    """How ready search is: papers, keyword index, vectors and model, pending papers and the state
    (ready, building, damaged or off). Safe beside a running server: reads only."""
    settings = get_settings(db)
    engine = get_engine(settings)
    data = collect_status(settings, engine)
    if as_json:
        print_json(data)
        return
    for line in _plain(data):
        typer.echo(line)

"""The ``paperfeed`` command: one Typer sub-command per pipeline stage, each a thin wrapper.

Command modules register themselves on ``app``; see ``store_cmds`` for the pattern.
"""

from __future__ import annotations

import typer

from paperfeed.cli.common import DbOption, set_global_db

app = typer.Typer(
    name="paperfeed",
    help="Paperfeed: find, follow and get emailed the research papers that matter to you.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(db: DbOption = None) -> None:
    """Global options apply to every command (a command's own --db wins)."""
    set_global_db(db)


# Command modules: importing one registers its commands on ``app``.
from paperfeed.cli import (  # noqa: E402
    db_cmds,  # noqa: F401
    digest_cmds,  # noqa: F401
    enrich_cmds,  # noqa: F401
    harvest_cmds,  # noqa: F401
    model_cmds,  # noqa: F401
    related_cmds,  # noqa: F401
    search_cmds,  # noqa: F401
    status_cmds,  # noqa: F401
    store_cmds,  # noqa: F401
    users_cmds,  # noqa: F401
    web_cmds,  # noqa: F401
)


def main() -> None:
    app()

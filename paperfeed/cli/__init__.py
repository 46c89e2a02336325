"""The ``paperfeed`` command: one Typer sub-command per pipeline stage, each a thin wrapper.

Command modules register themselves on ``app``; see ``store_cmds`` for the pattern. They are imported only
when needed, so that ``paperfeed --help`` starts in a blink: :func:`main` imports just the module of the
command asked for (all of them for a group such as ``db``), prints the top-level help from the modules'
sources (:mod:`paperfeed.cli.startup`), and ``app`` imports them all the first time its commands are read
(``typer.testing.CliRunner``, :mod:`paperfeed.cli.reference`).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

from paperfeed.cli.common import DbOption, set_global_db

# Command modules, in the order their commands are listed (no command module imports another).
COMMAND_MODULES = (
    "digest_cmds",
    "harvest_cmds",
    "model_cmds",
    "related_cmds",
    "search_cmds",
    "status_cmds",
    "store_cmds",
    "users_cmds",
    "web_cmds",
)


def _root(db: DbOption = None) -> None:
    """Global options apply to every command (a command's own --db wins)."""
    set_global_db(db)


class _Commands(typer.Typer):
    """The root app: its command modules are imported the first time its commands are read."""

    def __init__(self, **options: Any) -> None:
        self.modules_loaded = False  # set before Typer assigns the lists below
        super().__init__(**options)

    def load(self, modules: tuple[str, ...] = COMMAND_MODULES) -> None:
        self.modules_loaded = True
        for name in modules:
            importlib.import_module(f"paperfeed.cli.{name}")

    @property  # type: ignore[override]
    def registered_commands(self) -> list[Any]:
        if not self.modules_loaded:
            self.load()
        return self._commands

    @registered_commands.setter
    def registered_commands(self, value: list[Any]) -> None:
        self._commands = value

    @property  # type: ignore[override]
    def registered_groups(self) -> list[Any]:
        if not self.modules_loaded:
            self.load()
        return self._groups

    @registered_groups.setter
    def registered_groups(self, value: list[Any]) -> None:
        self._groups = value


def _make_root(cls: type[typer.Typer] = typer.Typer) -> typer.Typer:
    root = cls(
        name="paperfeed",
        help="Paperfeed: find, follow and get emailed the research papers that matter to you.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    root.callback()(_root)
    return root


app: Any = _make_root(_Commands)


def main() -> None:
    from paperfeed.cli import startup

    name = startup.command_asked(sys.argv[1:])
    if name is None:  # the top-level help (or an option alone): from the sources, nothing imported
        startup.help_app(_make_root, COMMAND_MODULES)()
        return
    module = startup.module_of(name, COMMAND_MODULES)
    if module is not None:
        app.load((module,))  # only that command's module (and what it imports)
    app()

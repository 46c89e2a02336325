"""Quick starts for the ``paperfeed`` command: which command module holds a command, and the top-level
``--help`` built from the modules' sources, so neither imports a command module (nor sqlalchemy, pydantic,
FastAPI or numpy, which those import).

Both read the modules' syntax trees (:mod:`ast`, a few milliseconds): ``@app.command(...)`` functions (name:
the decorator's first argument or ``name=``, else the function's name with ``_`` as ``-``; help: its
docstring) and groups (``x_app = typer.Typer(help=...)`` added with ``app.add_typer(x_app, name=...)``).
``tests/test_cli_startup.py`` checks that this help is the one the fully loaded command prints.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Entry:
    name: str
    module: str
    help: str | None
    group: bool = False


def _call_name(node: ast.expr) -> tuple[str, str] | None:
    """``app.command`` -> ("app", "command") for a call or attribute on a plain name."""
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id, func.attr
    return None


def _string(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _entries_of(module: str) -> list[Entry]:
    tree = ast.parse((HERE / f"{module}.py").read_text(encoding="utf-8"))
    commands: list[Entry] = []
    groups: list[Entry] = []
    typer_help: dict[str, str | None] = {}  # x_app = typer.Typer(help=...)
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            if _call_name(node.value) == ("typer", "Typer") and isinstance(node.targets[0], ast.Name):
                typer_help[node.targets[0].id] = _string(_keyword(node.value, "help"))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            call = node.value
            if _call_name(call) == ("app", "add_typer") and call.args and isinstance(call.args[0], ast.Name):
                name = _string(_keyword(call, "name")) or call.args[0].id
                helped = _string(_keyword(call, "help")) or typer_help.get(call.args[0].id)
                groups.append(Entry(name, module, helped, group=True))
        elif isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and _call_name(deco) == ("app", "command"):
                    named = _string(deco.args[0] if deco.args else _keyword(deco, "name"))
                    commands.append(Entry(named or node.name.replace("_", "-"), module, ast.get_docstring(node)))
    return commands + groups


@cache
def entries(modules: tuple[str, ...]) -> tuple[Entry, ...]:
    """Every top-level command and group of ``modules``: commands in module order, then groups (Typer's order)."""
    found = [e for m in modules for e in _entries_of(m)]
    return tuple([e for e in found if not e.group] + [e for e in found if e.group])


def module_of(name: str, modules: tuple[str, ...]) -> str | None:
    """The module of top-level command ``name``; None for a group (several modules add to one) or unknown."""
    for entry in entries(modules):
        if entry.name == name:
            return None if entry.group else entry.module
    return None


def command_asked(args: list[str]) -> str | None:
    """The command named on the command line (``--db X`` and ``--db=X`` skipped), None when there is none or
    ``--help`` comes first."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--db":
            skip = True
        elif arg in ("--help", "-h"):
            return None
        elif not arg.startswith("-"):
            return arg
    return None


def help_app(make_root: Callable[[], Any], modules: tuple[str, ...]) -> Any:
    """A root app with a stand-in for each command and group: the same top-level ``--help``, nothing imported."""
    import typer

    root = make_root()
    for entry in entries(modules):
        if entry.group:
            group = typer.Typer(help=entry.help)
            group.command("-")(lambda: None)  # a group needs a command to be listed
            root.add_typer(group, name=entry.name)
        else:

            def stand_in() -> None:
                pass

            stand_in.__doc__ = entry.help
            root.command(entry.name)(stand_in)
    return root

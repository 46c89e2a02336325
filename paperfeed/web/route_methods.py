"""Which methods a path accepts: the ``Allow`` header of a 405, and 405 when a broader route would answer.

Several routes can match one path: ``/api/v1/papers/{paper_id:path}`` (GET) also matches
``/api/v1/papers/2401.00001/vote``, whose own routes take POST and DELETE. The routes whose template is the
most literal are the resource; a method they do not take answers 405 with ``Allow`` listing theirs, instead
of falling through to the broader route (which would read ``2401.00001/vote`` as a paper id).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from fastapi import Request
from starlette.routing import BaseRoute

_PARAM = re.compile(r"{[^}]*}")


def _leaf_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI >= 0.16x includes routers lazily
        if included is not None:
            yield from _leaf_routes(included.routes)
        elif getattr(route, "methods", None):
            yield route


def _first_segment(path: str) -> str:
    return path.split("/", 2)[1] if path.startswith("/") else ""


@dataclass
class _Templates:
    """Every route with methods as (literal length of its template, path pattern, methods), filed under its
    first path segment when that is literal (``/papers/{id}`` under ``papers``), else with every path's."""

    by_segment: dict[str, list[tuple[int, re.Pattern[str], frozenset[str]]]] = field(default_factory=dict)
    anywhere: list[tuple[int, re.Pattern[str], frozenset[str]]] = field(default_factory=list)

    @classmethod
    def of(cls, routes: Iterable[BaseRoute]) -> _Templates:
        table = cls()
        for route in _leaf_routes(routes):
            template = getattr(route, "path_format", "") or ""
            pattern = getattr(route, "path_regex", None)
            if pattern is None:
                continue
            row = (len(_PARAM.sub("", template)), pattern, frozenset(getattr(route, "methods", None) or ()))
            segment = _first_segment(template)
            if "{" in segment:
                table.anywhere.append(row)
            else:
                table.by_segment.setdefault(segment, []).append(row)
        return table

    def candidates(self, path: str) -> Iterator[tuple[int, re.Pattern[str], frozenset[str]]]:
        yield from self.by_segment.get(_first_segment(path), ())
        yield from self.anywhere


def _templates(request: Request) -> _Templates:
    """The route table of this app, built once."""
    state = request.app.state
    cached: _Templates | None = getattr(state, "route_table", None)
    if cached is None:
        cached = state.route_table = _Templates.of(request.app.router.routes)
    return cached


def _route_path(request: Request) -> str:
    """The path routes are matched against: the request's, less the app's root path (as Starlette does)."""
    path: str = request.scope["path"]
    root = request.scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path


def allowed_methods(request: Request) -> list[str]:
    """The methods of the most literal route templates matching this request's path (empty: none match)."""
    path = _route_path(request)
    best, methods = -1, set[str]()
    for literal, pattern, route_methods in _templates(request).candidates(path):
        if literal < best or pattern.match(path) is None:
            continue
        if literal > best:
            best, methods = literal, set()
        methods |= route_methods
    return sorted(methods)


def wrong_method(request: Request) -> list[str] | None:
    """The methods this path takes when the request's method is not one of them, else None."""
    methods = allowed_methods(request)
    return methods if methods and request.method not in methods else None

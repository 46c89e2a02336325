"""Which methods a path accepts: the ``Allow`` header of a 405, and 405 when a broader route would answer.

Several routes can match one path: ``/api/v1/papers/{paper_id:path}`` (GET) also matches
``/api/v1/papers/2401.00001/vote``, whose own routes take POST and DELETE. The routes whose template is the
most literal are the resource; a method they do not take answers 405 with ``Allow`` listing theirs, instead
of falling through to the broader route (which would read ``2401.00001/vote`` as a paper id).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from fastapi import Request
from starlette.routing import BaseRoute, Match


def _leaf_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI >= 0.16x includes routers lazily
        if included is not None:
            yield from _leaf_routes(included.routes)
        elif getattr(route, "methods", None):
            yield route


def _templates(request: Request) -> list[tuple[int, BaseRoute]]:
    """(literal length of the path template, route) for every route with methods, computed once per app."""
    state = request.app.state
    cached: list[tuple[int, BaseRoute]] | None = getattr(state, "route_templates", None)
    if cached is None:
        cached = [
            (len(re.sub(r"{[^}]*}", "", getattr(route, "path_format", "") or "")), route)
            for route in _leaf_routes(request.app.router.routes)
        ]
        state.route_templates = cached
    return cached


def allowed_methods(request: Request) -> list[str]:
    """The methods of the most literal route templates matching this request's path (empty: none match)."""
    best, methods = -1, set[str]()
    for literal, route in _templates(request):
        if literal < best or route.matches(request.scope)[0] == Match.NONE:
            continue
        if literal > best:
            best, methods = literal, set()
        methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def wrong_method(request: Request) -> list[str] | None:
    """The methods this path takes when the request's method is not one of them, else None."""
    methods = allowed_methods(request)
    return methods if methods and request.method not in methods else None

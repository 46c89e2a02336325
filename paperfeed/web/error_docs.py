"""The error answers of the JSON API, documented once for every route.

Every JSON error has one of two shapes (built by the handlers in :mod:`paperfeed.web.app`):
``ErrorOut`` (``error`` and ``detail`` hold the message) or, for a 422, ``ValidationErrorOut`` (``detail``
names each field at fault); the models are in :mod:`paperfeed.web.error_schemas`. :func:`document_errors`
makes ``app.openapi()`` give every operation the statuses it can answer with, by what its route takes and
depends on, so a new endpoint is documented without a per-route patch:

- 400 (a value the database cannot store, such as a NUL byte), 503 (search not loaded, disk full): all;
- 401: routes that need a personal API token or a signed-in member;
- 403: routes only members with a verified email address may use (vote, comment, submit);
- 404: routes with path parameters (no such paper, comment, collection...);
- 422: routes with parameters or a body, replacing FastAPI's ``HTTPValidationError`` (whose ``msg`` key
  our answers do not have).

A route's own ``responses=`` entry for a status wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from paperfeed.web.deps import api_user, current_user, verified_api_user, verified_user
from paperfeed.web.error_schemas import ErrorOut, ValidationErrorOut

ERROR_TEXT = {
    400: "a value this server cannot store or read (such as a NUL byte)",
    401: "no, or an unknown, personal API token (Authorization: Bearer pf_...)",
    403: "signed in, but not allowed",
    404: "no such item (or an id out of range)",
    409: "conflicts with what is stored",
    422: "invalid input; detail names each field at fault",
    429: "rate limit reached; Retry-After says when to try again",
    503: "temporarily unavailable (search not loaded, or the server's disk is full); reading still works",
}
_REF = "#/components/schemas/"
_SIGNED_IN: tuple[Callable[..., Any], ...] = (api_user, current_user)
_VERIFIED: tuple[Callable[..., Any], ...] = (verified_api_user, verified_user)  # 403: verify your address first


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route's own error statuses (403, 409, 429...), with their body schema."""
    return {
        code: {"model": ValidationErrorOut if code == 422 else ErrorOut, "description": ERROR_TEXT[code]}
        for code in codes
    }


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any] | None]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def _tree(dependant: Dependant) -> Iterator[Dependant]:
    """The route's own parameters and those its dependencies take (a dependency may read a path parameter)."""
    yield dependant
    for dep in dependant.dependencies:
        yield from _tree(dep)


def route_error_codes(route: APIRoute) -> list[int]:
    """The statuses ``route`` can answer with besides its own, by what it depends on and takes."""
    dependant = route.dependant
    codes = [400, 503]
    if any(call in _SIGNED_IN for call in _calls(dependant)):
        codes.append(401)
    if any(call in _VERIFIED for call in _calls(dependant)):
        codes.append(403)
    tree = list(_tree(dependant))
    if any(d.path_params for d in tree):
        codes.append(404)
    if any(d.path_params or d.query_params or d.header_params or d.body_params for d in tree):
        codes.append(422)
    return sorted(codes)


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # FastAPI >= 0.16x includes routers lazily
        if included is not None:
            yield from _api_routes(included.routes)


def _add_components(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorOut, ValidationErrorOut):
        body = model.model_json_schema(ref_template=_REF + "{model}")
        components.update(body.pop("$defs", {}))
        components[model.__name__] = body


def _document(operation: dict[str, Any], codes: Iterable[int], html: bool) -> None:
    responses = operation.setdefault("responses", {})
    for code in codes:
        model = ValidationErrorOut if code == 422 else ErrorOut
        content: dict[str, Any] = {"application/json": {"schema": {"$ref": _REF + model.__name__}}}
        if html:  # outside /api/ errors are an HTML page unless the client asks for JSON
            content["text/html"] = {"schema": {"type": "string"}}
        current = responses.get(str(code))
        if current is None:
            responses[str(code)] = {"description": ERROR_TEXT[code], "content": content}
        elif "HTTPValidationError" in str(current):  # FastAPI's default 422: its ``msg`` key is not ours
            current.update(description=ERROR_TEXT[code], content=content)


def with_error_responses(schema: dict[str, Any], routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """``schema`` (an OpenAPI document, changed in place) with every operation's error answers."""
    codes = {(r.path_format, m.lower()): route_error_codes(r) for r in _api_routes(routes) for m in (r.methods or ())}
    _add_components(schema)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "responses" in operation:
                html = not path.startswith("/api/")
                _document(operation, codes.get((path, method), [400, 404, 422, 503]), html)
    components = schema["components"]["schemas"]
    if "HTTPValidationError" not in str(schema.get("paths")):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    return schema


def document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` document every operation's error answers (routes added later included)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        return with_error_responses(generate(), app.routes)

    app.openapi = openapi  # type: ignore[method-assign]

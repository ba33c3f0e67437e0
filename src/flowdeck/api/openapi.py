"""The OpenAPI document tells the truth about errors: every operation declares each error
status it can answer, with the one error shape (`flowdeck.api.errors`).

Which statuses an operation can answer follows from what it is, read off each route
once the app is built, so a new route declares them without anyone remembering to:

- 401: it needs a signed-in user or a token (it depends on `authenticate`);
- 403: it needs an administrator, or it changes something (a session request without
  its CSRF token is 403);
- 404: it names something in its path;
- 409: it changes something (the thing changed meanwhile, or its state forbids it);
- 400, 413, 415: it takes a body (malformed or too complex; too large; not JSON);
- 422: always (any parameter, even one the operation does not know, may hold text
  that cannot be stored; a body may be invalid);
- 401 and 429: sign-in and webhooks check a secret of their own, and are rate limited;
- 503: always (the database may be unreachable for a moment).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from flowdeck.api import deps

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RATE_LIMITED_PATHS = ("/api/auth/login", "/hooks/")


class ErrorDetail(BaseModel):
    path: str = Field(description="Where in the request: a JSON path, `query.x`, `path.x`.")
    message: str


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable: clients branch on it.")
    message: str = Field(description="For people.")
    details: list[ErrorDetail]


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    error: ErrorInfo


DESCRIPTIONS = {
    400: "The body is not JSON, or is too complex (FLOWDECK_DOCUMENT_MAX_*).",
    401: "Not signed in: no token or session, or one that is no longer valid.",
    403: "Not allowed: an administrator's operation, or a session change without CSRF token.",
    404: "Not found (or not yours).",
    409: "In conflict with the current state.",
    413: "The body is larger than FLOWDECK_MAX_BODY_BYTES.",
    415: "The body is not JSON.",
    422: "A value is not valid; each problem is listed with its path.",
    429: "Too many requests; wait for Retry-After seconds.",
    503: "The database is not reachable just now; try again after Retry-After seconds.",
}


def _calls(dependant: Dependant) -> set[Any]:
    found: set[Any] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        found.add(current.call)
        stack.extend(current.dependencies)
    return found


def _query_names(route: APIRoute) -> set[str]:
    """The query parameters of a route, those of a query model (`Annotated[M, Query()]`)
    included."""
    names: set[str] = set()
    for param in route.dependant.query_params:
        kind = param.field_info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names.update(kind.model_fields)
        else:
            names.add(param.name)
    return names


def error_statuses(route: APIRoute) -> list[int]:
    """The error statuses `route` can answer (see the module's docstring)."""
    calls = _calls(route.dependant)
    changes = not ((route.methods or set()) <= SAFE_METHODS)
    takes_body = route.body_field is not None or bool(
        route.openapi_extra and "requestBody" in route.openapi_extra
    )
    statuses = {422, 503}
    if deps.authenticate in calls:
        statuses.add(401)
        if deps.admin_user in calls or changes:
            statuses.add(403)
    if route.dependant.path_params:
        statuses.add(404)
    if changes:
        statuses.add(409)
    if takes_body:
        statuses.update({400, 413, 415})
    if "cursor" in _query_names(route):
        statuses.add(400)  # a cursor that is not one of ours
    if route.path.startswith(RATE_LIMITED_PATHS):
        statuses.update({401, 429})  # a wrong password, a bad signature; too many of them
    return sorted(statuses)


def declare_errors(app: FastAPI, routes: Iterable[APIRoute]) -> None:
    """Make `app.openapi()` declare each route's error statuses with the one error shape.

    `routes` are the app's API routes as their routers made them (FastAPI's own
    validation error shape, which Flowdeck never sends, is replaced for 422).
    """
    statuses = {
        (method.lower(), route.path): error_statuses(route)
        for route in routes
        if route.include_in_schema
        for method in route.methods or ()
    }
    generate = app.openapi
    done: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        schema = generate()
        if done and done[0] is schema:
            return schema
        _add_errors(schema, statuses)
        done[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise


def _add_errors(schema: dict[str, Any], statuses: dict[tuple[str, str], list[int]]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error_schema.pop("$defs", {}))
    components["ErrorBody"] = error_schema
    reference = {"$ref": "#/components/schemas/ErrorBody"}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in statuses.get((method, path), ()):
                described = responses.get(str(status))
                if described is None or "HTTPValidationError" in str(described):
                    responses[str(status)] = {
                        "description": DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": reference}},
                    }
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)

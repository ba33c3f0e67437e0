"""The route class of every router: what a request brings is checked before a route runs.

- JSON bodies: FastAPI parses a JSON body with `Request.json()` before the route runs;
  the request given to every route here parses it with `flowdeck.documents.load_json`
  and the app's document limits instead, so no route can be handed a document past
  them. A body past a limit is answered 400 `document_too_complex`, one that is not
  JSON 400 `malformed_json`, one holding text the database cannot store (a NUL, a
  lone surrogate) 422 naming the field.
- The body's media type: a route that takes a JSON body answers any other declared
  type with 415 (FastAPI would hand such a body to the route as bytes).
- Path and query parameters: text the database cannot store is 422 naming the
  parameter, before any query is made of it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response, params
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.requests import HTTPConnection

from flowdeck.documents import DocumentError, DocumentLimits, load_json, text_problem
from flowdeck.http.errors import BodyRefused, HttpError, body_refused
from flowdeck.services.errors import unstorable

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def document_limits(connection: HTTPConnection) -> DocumentLimits:
    """The limits the app's settings give (FLOWDECK_DOCUMENT_MAX_*)."""
    return DocumentLimits.of(connection.app.state.settings)


class BoundedRequest(Request):
    """A request whose JSON body is parsed within the document limits."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = load_json(body, document_limits(self), subject="The request body")
            except DocumentError as error:
                raise BodyRefused(body_refused(error)) from None
        return self._json

    async def _get_form(
        self,
        *,
        max_files: int | float = 1000,
        max_fields: int | float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> FormData:
        # Starlette's one parser of forms, behind `form()`: every field a page reads is
        # checked here, as the JSON body is in `json()`.
        form = await super()._get_form(
            max_files=max_files, max_fields=max_fields, max_part_size=max_part_size
        )
        for name, value in form.multi_items():
            if (problem := text_problem(name)) is not None:
                raise unstorable("form", f"a field's name {problem}")
            if isinstance(value, str) and (problem := text_problem(value)) is not None:
                raise unstorable(f"form.{name}", problem)
        return form


def is_json(content_type: str) -> bool:
    """application/json, or any `+json` type (application/merge-patch+json ...)."""
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def check_parameters(request: Request) -> None:
    """422 naming the first path or query parameter holding text that cannot be stored."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and (problem := text_problem(value)) is not None:
            raise unstorable(f"path.{name}", problem)
    for name, value in request.query_params.multi_items():
        if (problem := text_problem(name)) is not None:
            raise unstorable("query", f"a parameter's name {problem}")
        if (problem := text_problem(value)) is not None:
            raise unstorable(f"query.{name}", problem)


def check_media_type(request: Request) -> None:
    """415 for a body declared as anything but JSON (no Content-Type is taken as JSON)."""
    content_type = request.headers.get("content-type")
    if content_type is None or is_json(content_type):
        return
    if (
        request.headers.get("content-length", "0") == "0"
        and "transfer-encoding" not in request.headers
    ):
        return  # no body at all: the route's own rules decide whether one was needed
    raise HttpError(
        415,
        "unsupported_media_type",
        f"The request body must be JSON (Content-Type: application/json), not {content_type}.",
    )


class BoundedRoute(APIRoute):
    """Routes that are given a BoundedRequest (FastAPI's custom request class pattern),
    after their parameters and their body's media type are checked."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        # Pages read their forms themselves (no body field); a Form field is not JSON.
        takes_json = self.body_field is not None and not isinstance(
            self.body_field.field_info, params.Form
        )

        async def bounded(request: Request) -> Response:
            check_parameters(request)
            if takes_json:
                check_media_type(request)
            return await handler(BoundedRequest(request.scope, request.receive))

        return bounded

"""The route class of every router: JSON request bodies are read by the bounded parser.

FastAPI parses a JSON body with `Request.json()` before the route runs; the request
given to every route here parses it with `flowdeck.documents.load_json` and the
app's document limits instead, so no route can be handed a document past them. A body
past a limit is answered 400 `document_too_complex`, one that is not JSON 400
`malformed_json`, both in the API's one error shape.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection

from flowdeck.api.errors import BodyRefused, body_refused
from flowdeck.documents import DocumentError, DocumentLimits, load_json

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


class BoundedRoute(APIRoute):
    """Routes that are given a BoundedRequest (FastAPI's custom request class pattern)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            return await handler(BoundedRequest(request.scope, request.receive))

        return bounded

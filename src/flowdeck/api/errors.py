"""One error shape for every 4xx and 5xx the API returns:

    {"error": {"code": "not_found", "message": "...",
               "details": [{"path": "...", "message": "..."}]}}

`code` is stable (clients branch on it); `message` is for people; `details` lists
every problem of a rejected document with its JSON path.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowdeck.definition.document import DefinitionError, Issue
from flowdeck.definition.issues import join_path
from flowdeck.documents import (
    DEFAULT_LIMITS,
    DocumentError,
    DocumentTooComplexError,
    UnstorableValueError,
    load_json,
)

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered as it is: status, stable code, message, optional details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[Issue] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details)
        self.headers = headers


class BodyRefused(StarletteHTTPException):
    """An ApiError raised while FastAPI reads a request body (from `Request.json()`).

    An HTTPException because FastAPI passes those on and turns any other exception in
    body parsing into a generic 400; `http_error` answers with the ApiError itself.
    """

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.status, error.message, dict(error.headers or {}))
        self.error = error


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} was not found.")


def invalid(message: str, details: Sequence[Issue] = ()) -> ApiError:
    return ApiError(422, "validation_failed", message, details)


def too_many_attempts(message: str, retry_after: int) -> ApiError:
    """429: refused for now (sign-in throttling); `Retry-After` says for how many seconds."""
    return ApiError(429, "too_many_attempts", message, headers={"Retry-After": str(retry_after)})


def definition_invalid(error: DefinitionError, prefix: str = "definition") -> ApiError:
    """A definition's issues, with paths from the request body's root."""
    details = [Issue(prefixed_path(prefix, issue.path), issue.message) for issue in error.issues]
    count = len(details)
    noun = "problem" if count == 1 else "problems"
    return invalid(f"The request has {count} {noun}; each is listed with its path.", details)


def document_too_complex(error: DocumentTooComplexError) -> ApiError:
    """A document past a limit (FLOWDECK_DOCUMENT_MAX_*): the message names it and the line."""
    return ApiError(400, "document_too_complex", str(error))


def unstorable(path: str, problem: str) -> ApiError:
    """Text or a number the database cannot hold (a NUL, a lone surrogate, infinity), at
    `path`: 422 naming the field, as any other invalid value."""
    where = path or "the request body"
    return invalid(f"The value at {where} {problem}.", [Issue(path, problem)])


def body_refused(error: DocumentError) -> ApiError:
    """The answer to a JSON request body that cannot be taken: too complex, not JSON, or
    holding a value that cannot be stored."""
    if isinstance(error, DocumentTooComplexError):
        return document_too_complex(error)
    if isinstance(error, UnstorableValueError):
        return unstorable(error.path, error.reason)
    where = f" at {error.position()}" if error.line is not None else ""
    return ApiError(
        400, "malformed_json", f"The request body is not valid JSON: {error.problem}{where}."
    )


def prefixed_path(prefix: str, path: str) -> str:
    """A path inside a document placed at `prefix`: definition + steps[0] -> definition.steps[0]."""
    if not prefix:
        return path
    if not path:
        return prefix
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def error_body(code: str, message: str, details: Sequence[Issue] = ()) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": [{"path": d.path, "message": d.message} for d in details],
        }
    }


def _response(error: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(error.code, error.message, error.details),
        status_code=error.status,
        headers=error.headers,
    )


def location_path(location: Sequence[int | str]) -> str:
    """A pydantic location as a JSON path: ("body", "steps", 2, "with") -> steps[2].with."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        source, parts = parts[0], parts[1:]
        if source != "body" and parts:
            return f"{source}.{parts[0]}"
    return join_path("", *parts)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return _response(await _malformed_json(request))
    details = [Issue(location_path(e.get("loc", ())), str(e.get("msg", ""))) for e in errors]
    return _response(invalid("The request is not valid.", details))


async def _malformed_json(request: Request) -> ApiError:
    # Only a route that is not a BoundedRoute gets here (those answer a malformed body
    # themselves): the body is parsed again, within the default limits, for the position.
    try:
        load_json(await request.body(), DEFAULT_LIMITS, subject="The request body")
    except DocumentError as error:
        return body_refused(error)
    return ApiError(400, "malformed_json", "The request body is not valid JSON.")


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:  # noqa: ARG001 (handler API)
    if isinstance(exc, BodyRefused):
        return _response(exc.error)
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "The request failed."
    if exc.status_code == 404 and message == "Not Found":
        message = "There is nothing at this address."
    return _response(ApiError(exc.status_code, code, message, headers=exc.headers))


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:  # noqa: ARG001 (handler API)
    return _response(exc)


async def _too_complex(request: Request, exc: DocumentTooComplexError) -> JSONResponse:  # noqa: ARG001 (handler API)
    return _response(document_too_complex(exc))


async def _unstorable(request: Request, exc: UnstorableValueError) -> JSONResponse:  # noqa: ARG001 (handler API)
    return _response(unstorable(exc.path, exc.reason))


# How long a client should wait before trying again after a 503: the pool replaces a
# dropped connection at once, and a restarting server is usually back within seconds.
RETRY_AFTER_SECONDS = 2
# What the database raises when the connection is gone or cannot be had: the server
# restarted or dropped it (OperationalError; its subclass PoolTimeout when no
# connection came in time), or psycopg found it closed (InterfaceError).
DATABASE_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError)


def database_unavailable() -> ApiError:
    return ApiError(
        503,
        "database_unavailable",
        "The database is not reachable just now; try again in a moment.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _database_lost(request: Request, exc: Exception) -> JSONResponse:
    # One line, no traceback: it is the database's state, not a bug here. (A handler
    # for this class runs in Starlette's ExceptionMiddleware, which does not re-raise,
    # so uvicorn does not log it a second time.)
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return _response(database_unavailable())


def unexpected_error() -> ApiError:
    return ApiError(500, "internal_error", "Flowdeck hit an unexpected error; it has been logged.")


class TrackedSend:
    """`send` that remembers whether the answer has started (after which a middleware
    that catches an error can no longer answer in its place)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self.send(message)


class UnexpectedErrorMiddleware:
    """Answer any exception no handler took with the one error shape, logged once.

    Starlette's handler for `Exception` runs in its outermost middleware, which logs
    nothing itself but re-raises after answering, so uvicorn logs the same error a
    second time; this middleware sits inside it and does not re-raise.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception:
            # The person sees a stable message and a reference to the log, never a trace.
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            if not tracked.started:
                await _response(unexpected_error())(scope, receive, send)


def install(app: FastAPI) -> None:
    """Route every error through the one shape."""
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]  # Starlette types handlers loosely
    app.add_exception_handler(DocumentTooComplexError, _too_complex)  # type: ignore[arg-type]  # idem
    app.add_exception_handler(UnstorableValueError, _unstorable)  # type: ignore[arg-type]  # idem
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]  # idem
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]  # idem
    for database_error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(database_error, _database_lost)
    app.add_middleware(UnexpectedErrorMiddleware)

"""One error shape for every 4xx and 5xx the API returns:

    {"error": {"code": "not_found", "message": "...",
               "details": [{"path": "...", "message": "..."}]}}

`code` is stable (clients branch on it); `message` is for people; `details` lists
every problem of a rejected document with its JSON path.

The domain errors the services raise are answered here, each by `answer` (the API's
one mapping of them to a status, code and headers); errors of the request itself
(`flowdeck.http.errors.HttpError`) are answered as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowdeck.definition.issues import Issue
from flowdeck.documents import (
    DEFAULT_LIMITS,
    DocumentError,
    DocumentTooComplexError,
    UnstorableValueError,
    load_json,
)
from flowdeck.http.errors import (
    DATABASE_UNAVAILABLE,
    BodyRefused,
    HttpError,
    body_refused,
    database_unavailable,
)
from flowdeck.services.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    Throttled,
    Unauthenticated,
    document_too_complex,
    location_path,
    unstorable,
)

log = logging.getLogger(__name__)


def answer(error: DomainError) -> HttpError:
    """The API's one mapping of a domain error to its HTTP answer."""
    match error:
        case NotFound():
            return HttpError(404, "not_found", error.message)
        case Conflict():
            return HttpError(409, error.code, error.message)
        case Invalid():
            return HttpError(422, "validation_failed", error.message, error.issues)
        case BadRequest():
            return HttpError(400, error.code, error.message)
        case Forbidden():
            return HttpError(403, error.code, error.message)
        case Unauthenticated():
            return HttpError(401, error.code, error.message)
        case Throttled():
            headers = {"Retry-After": str(error.retry_after)}
            return HttpError(429, error.code, error.message, headers=headers)
    raise TypeError(f"no HTTP answer for {type(error).__name__}")  # a new class must be mapped


def error_body(code: str, message: str, details: Sequence[Issue] = ()) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": [{"path": d.path, "message": d.message} for d in details],
        }
    }


def _response(error: HttpError) -> JSONResponse:
    return JSONResponse(
        error_body(error.code, error.message, error.details),
        status_code=error.status,
        headers=error.headers,
    )


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return _response(await _malformed_json(request))
    details = [Issue(location_path(e.get("loc", ())), str(e.get("msg", ""))) for e in errors]
    return _response(answer(Invalid("The request is not valid.", details)))


async def _malformed_json(request: Request) -> HttpError:
    # Only a route that is not a BoundedRoute gets here (those answer a malformed body
    # themselves): the body is parsed again, within the default limits, for the position.
    try:
        load_json(await request.body(), DEFAULT_LIMITS, subject="The request body")
    except DocumentError as error:
        return answer(body_refused(error))
    return HttpError(400, "malformed_json", "The request body is not valid JSON.")


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
        return _response(answer(exc.error))
    code = _HTTP_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "The request failed."
    if exc.status_code == 404 and message == "Not Found":
        message = "There is nothing at this address."
    return _response(HttpError(exc.status_code, code, message, headers=exc.headers))


async def _http_error(request: Request, exc: HttpError) -> JSONResponse:  # noqa: ARG001 (handler API)
    return _response(exc)


async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:  # noqa: ARG001 (handler API)
    return _response(answer(exc))


async def _too_complex(request: Request, exc: DocumentTooComplexError) -> JSONResponse:  # noqa: ARG001 (handler API)
    return _response(answer(document_too_complex(exc)))


async def _unstorable(request: Request, exc: UnstorableValueError) -> JSONResponse:  # noqa: ARG001 (handler API)
    return _response(answer(unstorable(exc.path, exc.reason)))


async def _database_lost(request: Request, exc: Exception) -> JSONResponse:
    # One line, no traceback: it is the database's state, not a bug here. (A handler
    # for this class runs in Starlette's ExceptionMiddleware, which does not re-raise,
    # so uvicorn does not log it a second time.)
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return _response(database_unavailable())


def unexpected_error() -> HttpError:
    return HttpError(500, "internal_error", "Flowdeck hit an unexpected error; it has been logged.")


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
    app.add_exception_handler(HttpError, _http_error)  # type: ignore[arg-type]  # Starlette types handlers loosely
    for domain_error in (
        NotFound,
        Conflict,
        Invalid,
        BadRequest,
        Forbidden,
        Unauthenticated,
        Throttled,
    ):
        app.add_exception_handler(domain_error, _domain_error)  # type: ignore[arg-type]  # idem
    app.add_exception_handler(DocumentTooComplexError, _too_complex)  # type: ignore[arg-type]  # idem
    app.add_exception_handler(UnstorableValueError, _unstorable)  # type: ignore[arg-type]  # idem
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]  # idem
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]  # idem
    for database_error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(database_error, _database_lost)
    app.add_middleware(UnexpectedErrorMiddleware)

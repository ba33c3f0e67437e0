"""Errors of the request itself, before any service is asked: the HTTP-level answer
(`HttpError`: status, stable code, message, details, headers), a refused JSON body,
and a database that cannot be reached."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import psycopg
from starlette.exceptions import HTTPException as StarletteHTTPException

from flowdeck.definition.issues import Issue
from flowdeck.documents import DocumentError, DocumentTooComplexError, UnstorableValueError
from flowdeck.services.errors import BadRequest, DomainError, document_too_complex, unstorable


class HttpError(Exception):
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
    """A domain error raised while FastAPI reads a request body (from `Request.json()`).

    An HTTPException because FastAPI passes those on and turns any other exception in
    body parsing into a generic 400; the API's handler answers the error itself.
    """

    def __init__(self, error: DomainError) -> None:
        super().__init__(400, error.message)
        self.error = error


def body_refused(error: DocumentError) -> DomainError:
    """What a JSON request body that cannot be taken is: too complex, not JSON, or
    holding a value that cannot be stored."""
    if isinstance(error, DocumentTooComplexError):
        return document_too_complex(error)
    if isinstance(error, UnstorableValueError):
        return unstorable(error.path, error.reason)
    where = f" at {error.position()}" if error.line is not None else ""
    return BadRequest(
        "malformed_json", f"The request body is not valid JSON: {error.problem}{where}."
    )


# How long a client should wait before trying again after a 503: the pool replaces a
# dropped connection at once, and a restarting server is usually back within seconds.
RETRY_AFTER_SECONDS = 2
# What the database raises when the connection is gone or cannot be had: the server
# restarted or dropped it (OperationalError; its subclass PoolTimeout when no
# connection came in time), or psycopg found it closed (InterfaceError).
DATABASE_UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError)


def database_unavailable() -> HttpError:
    return HttpError(
        503,
        "database_unavailable",
        "The database is not reachable just now; try again in a moment.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )

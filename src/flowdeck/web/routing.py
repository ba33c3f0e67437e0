"""The route class of every page: errors become pages, never JSON or a traceback.

A page's handler calls the same services the REST API's routes do; the domain errors
they raise (NotFound, Conflict, Invalid …) are answered here, the pages' one mapping
of them, as an HTML page with the message and the status the API would give; a
missing session as a redirect to /login, a form without its CSRF token as a 403 page
that says to reload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from flowdeck.http.bodies import BoundedRoute
from flowdeck.http.errors import DATABASE_UNAVAILABLE, HttpError, database_unavailable
from flowdeck.services import errors as domain
from flowdeck.web.render import page, redirect
from flowdeck.web.session import FormRejected, LoginRequired, login_url

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

log = logging.getLogger(__name__)
API_PREFIXES = ("/api/", "/hooks/", "/static/")
# The status of the page that answers each domain error: the API's, for the same error.
PAGE_STATUS: dict[type[domain.DomainError], int] = {
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.Invalid: 422,
    domain.BadRequest: 400,
    domain.Forbidden: 403,
    domain.Unauthenticated: 401,
    domain.Throttled: 429,
}


def page_status(error: domain.DomainError) -> int:
    """The status of the page that answers a domain error."""
    return next(status for kind, status in PAGE_STATUS.items() if isinstance(error, kind))


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return page(request, "error.html", None, status_code=status, title=title, message=message)


def _failed(request: Request, status: int, message: str) -> Response:
    title = "Not found" if status == 404 else "That did not work"
    return _error_page(request, status, title, message)


class PageRoute(BoundedRoute):
    """Pages read bodies as the API does (bounded) and answer errors with a page."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as needed:
                return redirect(login_url(needed.next_url))
            except FormRejected:
                return _error_page(
                    request,
                    403,
                    "This form has expired",
                    "The page was open too long or came from elsewhere. Reload it and try again.",
                )
            except domain.DomainError as error:
                return _failed(request, page_status(error), error.message)
            except HttpError as error:  # the request itself: a value that cannot be stored
                return _failed(request, error.status, error.message)
            except DATABASE_UNAVAILABLE as exc:
                log.warning(
                    "database unavailable on %s %s: %s", request.method, request.url.path, exc
                )
                unavailable = database_unavailable()
                busy = _error_page(request, 503, "Try again in a moment", unavailable.message)
                busy.headers.update(unavailable.headers or {})
                return busy
            except RequestValidationError:
                # Only a malformed address gets here (a path id that is no UUID).
                return not_found_page(request)
            except Exception:
                log.exception("unexpected error on %s %s", request.method, request.url.path)
                return _error_page(
                    request,
                    500,
                    "Something went wrong",
                    "Flowdeck hit an unexpected error; it has been logged.",
                )

        return answer


def wants_page(request: Request, exc: StarletteHTTPException) -> bool:
    """Whether an address nobody serves is answered with a page: a browser's 404 outside
    the API. (The app factory answers everything else with the API's JSON.)"""
    wants_html = "text/html" in request.headers.get("accept", "")
    return wants_html and not request.url.path.startswith(API_PREFIXES) and exc.status_code == 404


def not_found_page(request: Request) -> Response:
    return _error_page(request, 404, "Not found", "There is nothing at this address.")

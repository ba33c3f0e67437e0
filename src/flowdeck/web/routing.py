"""The route class of every page: errors become pages, never JSON or a traceback.

A page's handler calls the same functions the REST API's routes are made of; what
they raise (ApiError: 404, 409, 422 …) is answered here as an HTML page with the
message, a missing session as a redirect to /login, a form without its CSRF token
as a 403 page that says to reload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from flowdeck.api.bodies import BoundedRoute
from flowdeck.api.errors import (
    DATABASE_UNAVAILABLE,
    ApiError,
    database_unavailable,
    http_error,
)
from flowdeck.web.render import page, redirect
from flowdeck.web.session import FormRejected, LoginRequired, login_url

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

log = logging.getLogger(__name__)
API_PREFIXES = ("/api/", "/hooks/", "/static/")


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return page(request, "error.html", None, status_code=status, title=title, message=message)


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
            except ApiError as error:
                title = "Not found" if error.status == 404 else "That did not work"
                return _error_page(request, error.status, title, error.message)
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
                return _error_page(request, 404, "Not found", "There is nothing at this address.")
            except Exception:
                log.exception("unexpected error on %s %s", request.method, request.url.path)
                return _error_page(
                    request,
                    500,
                    "Something went wrong",
                    "Flowdeck hit an unexpected error; it has been logged.",
                )

        return answer


async def browser_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """An address nobody serves: a page for a browser, the API's JSON for everyone else."""
    wants_page = "text/html" in request.headers.get("accept", "")
    if wants_page and not request.url.path.startswith(API_PREFIXES) and exc.status_code == 404:
        return _error_page(request, 404, "Not found", "There is nothing at this address.")
    return await http_error(request, exc)

"""The route class of every page: errors become pages, never JSON or a traceback.

A page's handler calls the same functions the REST API's routes are made of; what
they raise (ApiError: 404, 409, 422 …) is answered here as an HTML page with the
message, a missing session as a redirect to /login, a form without its CSRF token
as a 403 page that says to reload.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from flowdeck.api.errors import ApiError
from flowdeck.web.render import page, redirect
from flowdeck.web.session import FormRejected, LoginRequired, login_url

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PageRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as needed:
                return redirect(login_url(needed.next_url))
            except FormRejected:
                return page(
                    request,
                    "error.html",
                    None,
                    status_code=403,
                    title="This form has expired",
                    message="The page was open too long or came from elsewhere. "
                    "Reload it and try again.",
                )
            except ApiError as error:
                return page(
                    request,
                    "error.html",
                    None,
                    status_code=error.status,
                    title="Not found" if error.status == 404 else "That did not work",
                    message=error.message,
                )

        return answer

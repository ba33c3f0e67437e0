"""Who is looking at a page, and the CSRF check of every form.

Pages use the browser session of `flowdeck.http.session` (the API accepts the same
cookie); a page asked for without one redirects to /login and comes back afterwards.
Every form carries the session's CSRF token in a hidden `csrf_token` field; the login
form, which has no session yet, uses a double-submit token instead (a random value in
a cookie and in the form).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.datastructures import FormData

from flowdeck.http.session import ConnDep, csrf_matches, csrf_token_for, session_principal
from flowdeck.users.service import User

LOGIN_CSRF_COOKIE = "flowdeck_login_csrf"
CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):
    """The page needs a signed-in user; the handler redirects to /login?next=…"""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class FormRejected(Exception):
    """A form came without the right CSRF token (stale page, or another site)."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, and the CSRF token their forms carry."""

    user: User
    csrf_token: str
    session_secret: str


def _here(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{request.url.path}{query}"


def _sent_from(request: Request) -> str:
    """The page a form was sent from (to come back to after signing in again).

    Form URLs answer only POST; the page that holds the form is the place to return to.
    """
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc == request.url.netloc and referer.path.startswith("/"):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return "/workflows"


async def viewer(request: Request, conn: ConnDep) -> Viewer:
    """The page's viewer; LoginRequired when nobody is signed in."""
    principal = await session_principal(request, conn)
    if principal is None or principal.session_secret is None:
        raise LoginRequired(_here(request) if request.method == "GET" else _sent_from(request))
    secret = principal.session_secret
    return Viewer(principal.user, csrf_token_for(request, secret), secret)


async def checked_form(request: Request, who: Viewer) -> FormData:
    """The posted form, after its CSRF token matched the viewer's session."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not csrf_matches(request, who.session_secret, sent):
        raise FormRejected
    return form


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def login_token_matches(request: Request, sent: object) -> bool:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return (
        isinstance(sent, str)
        and bool(expected)
        and secrets.compare_digest(sent.encode(), expected.encode())
    )


def safe_next(target: object) -> str:
    """Where to go after login: only a path on this site (no open redirect)."""
    # "//host" and "/\\host" are other sites to a browser.
    if isinstance(target, str) and target.startswith("/") and target[1:2] not in ("/", "\\"):
        return target
    return "/workflows"


def login_url(next_url: str) -> str:
    return f"/login?next={quote(next_url, safe='/')}"


ViewerDep = Annotated[Viewer, Depends(viewer)]

"""The browser session both the API and the pages accept: a pooled connection for the
request, the signed session cookie, and the session's CSRF token.

A session request that changes something must carry the CSRF token: the API wants it
in the `X-CSRF-Token` header, a page's form in a hidden field (each checks its own).
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, Signer
from psycopg_pool import AsyncConnectionPool

from flowdeck.db.types import Conn
from flowdeck.http.origin import origin
from flowdeck.services import users
from flowdeck.users import credentials
from flowdeck.users.service import User

SESSION_COOKIE = "flowdeck_session"


async def get_connection(request: Request) -> AsyncIterator[Conn]:
    pool: AsyncConnectionPool[Conn] = request.app.state.pool
    async with pool.connection() as conn:
        yield conn


ConnDep = Annotated[Conn, Depends(get_connection)]


def session_signer(request: Request) -> Signer:
    return Signer(request.app.state.signing_key, salt="flowdeck.session")


@dataclass(frozen=True)
class Principal:
    user: User
    session_secret: str | None  # set when the request came with the session cookie


async def session_principal(request: Request, conn: Conn) -> Principal | None:
    """The user of the browser session cookie, or None (no cookie, bad or ended session).

    Shared by the API and the web pages; it checks no CSRF token (callers do).
    """
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        secret = session_signer(request).unsign(cookie).decode("utf-8")
    except BadSignature:
        return None
    user = await users.session_user(conn, secret)
    return Principal(user, secret) if user is not None else None


def csrf_token_for(request: Request, session_secret: str) -> str:
    return credentials.csrf_token(request.app.state.signing_key, credentials.digest(session_secret))


def csrf_matches(request: Request, session_secret: str, sent: str) -> bool:
    """Whether `sent` is the session's CSRF token (a header or a form field)."""
    return hmac.compare_digest(sent.encode(), csrf_token_for(request, session_secret).encode())


async def start_session(request: Request, response: Response, conn: Conn, user: User) -> str:
    """Start a browser session: store it and set its cookie on `response`; its secret."""
    secret = await users.start_session(conn, user)
    response.set_cookie(
        SESSION_COOKIE,
        session_signer(request).sign(secret).decode("utf-8"),
        max_age=int(users.SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.cookie_secure or origin(request).https,
        path="/",
    )
    return secret


async def end_session(response: Response, conn: Conn, session_secret: str | None) -> None:
    """End the session everywhere (its cookie stops working at once) and drop the cookie."""
    if session_secret is not None:
        await users.end_session(conn, session_secret)
    response.delete_cookie(SESSION_COOKIE, path="/")


async def check_password(request: Request, conn: Conn, email: str, password: str) -> User | None:
    """The user with this e-mail and password, or None; Throttled (too_many_attempts)
    while the account or the client's address is throttled (the app's settings say when)."""
    limits = users.throttle_limits(request.app.state.settings)
    return await users.check_password(conn, email, password, origin(request).address, limits)

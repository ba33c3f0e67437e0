"""Request dependencies: a pooled connection, and who is asking.

Every /api route but login depends on `CurrentUser` (or `AdminUser`). A request
is authenticated by `Authorization: Bearer <token>` or by the browser session
cookie; a session request that changes something must also carry the session's
CSRF token in the `X-CSRF-Token` header (bearer requests cannot be forged by
another site, so they need none).
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from itsdangerous import BadSignature, Signer
from psycopg_pool import AsyncConnectionPool

from flowdeck.api.errors import ApiError
from flowdeck.db.types import Conn
from flowdeck.users import credentials, service
from flowdeck.users.service import User

SESSION_COOKIE = "flowdeck_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(request: Request, conn: ConnDep) -> Principal:
    """Who sent the request; 401 when nobody valid did."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("The Authorization header must be 'Bearer <token>'.")
        user = await service.authenticate_token(conn, token.strip())
        if user is None:
            raise _unauthorized("The token is not valid: unknown, expired or revoked.")
        return Principal(user, None)
    signed_in = await session_principal(request, conn)
    if signed_in is not None and signed_in.session_secret is not None:
        if request.method not in SAFE_METHODS:
            _check_csrf(request, signed_in.session_secret)
        return signed_in
    raise _unauthorized("Sign in, or send an API token as 'Authorization: Bearer <token>'.")


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
    user = await service.authenticate_session(conn, secret)
    return Principal(user, secret) if user is not None else None


def csrf_token_for(request: Request, session_secret: str) -> str:
    return credentials.csrf_token(request.app.state.signing_key, credentials.digest(session_secret))


def csrf_matches(request: Request, session_secret: str, sent: str) -> bool:
    """Whether `sent` is the session's CSRF token (a header or a form field)."""
    return hmac.compare_digest(sent.encode(), csrf_token_for(request, session_secret).encode())


def _check_csrf(request: Request, session_secret: str) -> None:
    if not csrf_matches(request, session_secret, request.headers.get(CSRF_HEADER, "")):
        raise ApiError(
            403,
            "csrf_failed",
            f"This request needs the session's CSRF token in the {CSRF_HEADER} header.",
        )


PrincipalDep = Annotated[Principal, Depends(authenticate)]


async def current_user(principal: PrincipalDep) -> User:
    return principal.user


async def admin_user(principal: PrincipalDep) -> User:
    if not principal.user.is_admin:
        raise ApiError(403, "forbidden", "Only an administrator may do this.")
    return principal.user


CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(admin_user)]

# For routes that only need the check, not the user: `dependencies=[SIGNED_IN]`.
SIGNED_IN = Depends(current_user)
ADMIN_ONLY = Depends(admin_user)

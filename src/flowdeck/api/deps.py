"""Request dependencies of the API: who is asking.

Every /api route but login depends on `CurrentUser` (or `AdminUser`). A request
is authenticated by `Authorization: Bearer <token>` or by the browser session
cookie (`flowdeck.http.session`); a session request that changes something must also
carry the session's CSRF token in the `X-CSRF-Token` header (bearer requests cannot
be forged by another site, so they need none).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from flowdeck.http.errors import HttpError
from flowdeck.http.session import ConnDep, Principal, csrf_matches, session_principal
from flowdeck.services import users
from flowdeck.users.service import User

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _unauthorized(message: str) -> HttpError:
    return HttpError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def authenticate(request: Request, conn: ConnDep) -> Principal:
    """Who sent the request; 401 when nobody valid did."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("The Authorization header must be 'Bearer <token>'.")
        user = await users.token_user(conn, token.strip())
        if user is None:
            raise _unauthorized("The token is not valid: unknown, expired or revoked.")
        return Principal(user, None)
    signed_in = await session_principal(request, conn)
    if signed_in is not None and signed_in.session_secret is not None:
        if request.method not in SAFE_METHODS:
            _check_csrf(request, signed_in.session_secret)
        return signed_in
    raise _unauthorized("Sign in, or send an API token as 'Authorization: Bearer <token>'.")


def _check_csrf(request: Request, session_secret: str) -> None:
    if not csrf_matches(request, session_secret, request.headers.get(CSRF_HEADER, "")):
        raise HttpError(
            403,
            "csrf_failed",
            f"This request needs the session's CSRF token in the {CSRF_HEADER} header.",
        )


PrincipalDep = Annotated[Principal, Depends(authenticate)]


async def current_user(principal: PrincipalDep) -> User:
    return principal.user


async def admin_user(principal: PrincipalDep) -> User:
    # The rule is the service's; asked here too so that a non-admin hears 403 before
    # anything of the request body is looked at.
    users.require_admin(principal.user)
    return principal.user


CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(admin_user)]

# For routes that only need the check, not the user: `dependencies=[SIGNED_IN]`.
SIGNED_IN = Depends(current_user)
ADMIN_ONLY = Depends(admin_user)

__all__ = ["ADMIN_ONLY", "SIGNED_IN", "AdminUser", "ConnDep", "CurrentUser", "PrincipalDep"]

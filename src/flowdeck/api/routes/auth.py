"""Sign in and out of a browser session, and who am I."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from flowdeck.api.bodies import BoundedRoute
from flowdeck.api.deps import (
    SESSION_COOKIE,
    ConnDep,
    CurrentUser,
    PrincipalDep,
    csrf_token_for,
    session_signer,
)
from flowdeck.api.errors import ApiError, too_many_attempts
from flowdeck.api.origin import origin
from flowdeck.config import Settings
from flowdeck.users import service, throttle

router = APIRouter(route_class=BoundedRoute, prefix="/api", tags=["auth"])

SESSION_TTL = timedelta(days=14)


class UserOut(BaseModel):
    id: UUID
    email: str
    display_name: str | None
    is_admin: bool


class MeOut(UserOut):
    csrf_token: str | None = Field(
        None, description="With the session cookie: send it as X-CSRF-Token on changes."
    )


class Login(BaseModel):
    email: str = Field(min_length=3, max_length=255)
    password: str = Field(min_length=1, max_length=1024)


def _user_out(user: service.User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "is_admin": user.is_admin,
    }


def throttle_limits(settings: Settings) -> throttle.Limits:
    return throttle.Limits(
        settings.signin_max_failures_per_account,
        settings.signin_max_failures_per_address,
        settings.signin_window,
    )


async def check_password(
    request: Request, conn: ConnDep, email: str, password: str
) -> service.User | None:
    """The user with this e-mail and password, or None; 429 too_many_attempts (with
    Retry-After) while the account or the client's address is throttled."""
    limits = throttle_limits(request.app.state.settings)
    try:
        return await throttle.sign_in(conn, email, password, origin(request).address, limits)
    except throttle.SignInThrottled as refused:
        raise too_many_attempts(str(refused), refused.retry_after) from None


@router.post("/auth/login", response_model=MeOut)
async def login(body: Login, request: Request, response: Response, conn: ConnDep) -> dict[str, Any]:
    """Start a browser session (an HttpOnly, SameSite=Lax signed cookie)."""
    user = await check_password(request, conn, body.email, body.password)
    if user is None:
        raise ApiError(401, "invalid_credentials", "The email or the password is wrong.")
    secret = await start_session(request, response, conn, user)
    return {**_user_out(user), "csrf_token": csrf_token_for(request, secret)}


async def start_session(
    request: Request, response: Response, conn: ConnDep, user: service.User
) -> str:
    """Start a browser session: store it and set its cookie on `response`; its secret."""
    secret = await service.create_session(conn, user, SESSION_TTL)
    response.set_cookie(
        SESSION_COOKIE,
        session_signer(request).sign(secret).decode("utf-8"),
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.cookie_secure or origin(request).https,
        path="/",
    )
    return secret


@router.post("/auth/logout", status_code=204)
async def logout(principal: PrincipalDep, response: Response, conn: ConnDep) -> Response:
    """End the browser session everywhere (its cookie stops working at once)."""
    if principal.session_secret is not None:
        await service.end_session(conn, principal.session_secret)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.status_code = 204
    return response


@router.get("/me", response_model=MeOut)
async def me(principal: PrincipalDep, request: Request) -> dict[str, Any]:
    """The signed-in user."""
    csrf = (
        csrf_token_for(request, principal.session_secret)
        if principal.session_secret is not None
        else None
    )
    return {**_user_out(principal.user), "csrf_token": csrf}


__all__ = ["CurrentUser", "UserOut", "router"]

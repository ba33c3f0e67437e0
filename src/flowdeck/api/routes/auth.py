"""Sign in and out of a browser session, and who am I."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from flowdeck.api.deps import CurrentUser, PrincipalDep
from flowdeck.http.bodies import BoundedRoute
from flowdeck.http.session import (
    ConnDep,
    check_password,
    csrf_token_for,
    end_session,
    start_session,
)
from flowdeck.services import users
from flowdeck.services.errors import Unauthenticated

router = APIRouter(route_class=BoundedRoute, prefix="/api", tags=["auth"])


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


@router.post("/auth/login", response_model=MeOut)
async def login(body: Login, request: Request, response: Response, conn: ConnDep) -> dict[str, Any]:
    """Start a browser session (an HttpOnly, SameSite=Lax signed cookie)."""
    user = await check_password(request, conn, body.email, body.password)
    if user is None:
        raise Unauthenticated("invalid_credentials", "The email or the password is wrong.")
    secret = await start_session(request, response, conn, user)
    return {**users.profile(user), "csrf_token": csrf_token_for(request, secret)}


@router.post("/auth/logout", status_code=204)
async def logout(principal: PrincipalDep, response: Response, conn: ConnDep) -> Response:
    """End the browser session everywhere (its cookie stops working at once)."""
    await end_session(response, conn, principal.session_secret)
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
    return {**users.profile(principal.user), "csrf_token": csrf}


__all__ = ["CurrentUser", "UserOut", "router"]

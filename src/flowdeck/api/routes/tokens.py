"""API tokens of the signed-in user: create (shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from flowdeck.api.deps import ConnDep, CurrentUser
from flowdeck.http.bodies import BoundedRoute
from flowdeck.services import users

router = APIRouter(route_class=BoundedRoute, prefix="/api/tokens", tags=["tokens"])


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    expires_at: datetime | None = Field(None, description="When it stops working; none: never.")


class TokenOut(BaseModel):
    id: UUID
    name: str
    prefix: str = Field(description="The token's first characters, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="The token itself. It is shown this once only.")


@router.post("", status_code=201, response_model=NewTokenOut)
async def create_token(body: TokenIn, user: CurrentUser, conn: ConnDep) -> dict[str, Any]:
    """Create a token; its value is in this response only."""
    return await users.create_token(conn, user, body.name, body.expires_at)


@router.get("", response_model=list[TokenOut])
async def list_tokens(user: CurrentUser, conn: ConnDep) -> list[dict[str, Any]]:
    """My tokens, newest first (values are never shown again)."""
    return await users.list_tokens(conn, user)


@router.delete("/{token_id}", status_code=204)
async def revoke_token(token_id: UUID, user: CurrentUser, conn: ConnDep) -> Response:
    """Revoke one of my tokens; it stops working at once."""
    await users.revoke_token(conn, user, token_id)
    return Response(status_code=204)

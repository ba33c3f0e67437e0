"""API tokens of the signed-in user: create (shown once), list, revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from flowdeck.api.bodies import BoundedRoute
from flowdeck.api.deps import ConnDep, CurrentUser
from flowdeck.api.errors import not_found
from flowdeck.users import service

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
    expires_at = body.expires_at
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    issued = await service.create_token(conn, user, body.name, expires_at=expires_at)
    return {**issued.row, "token": issued.token}


@router.get("", response_model=list[TokenOut])
async def list_tokens(user: CurrentUser, conn: ConnDep) -> list[dict[str, Any]]:
    """My tokens, newest first (values are never shown again)."""
    return await service.list_tokens(conn, user)


@router.delete("/{token_id}", status_code=204)
async def revoke_token(token_id: UUID, user: CurrentUser, conn: ConnDep) -> Response:
    """Revoke one of my tokens; it stops working at once."""
    if not await service.revoke_token(conn, user, token_id):
        raise not_found("The token")
    return Response(status_code=204)

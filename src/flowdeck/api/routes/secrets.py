"""My secrets: names are listed, values are written and never read back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from flowdeck.api.deps import ConnDep, CurrentUser
from flowdeck.http.bodies import BoundedRoute
from flowdeck.services import secrets

router = APIRouter(route_class=BoundedRoute, prefix="/api/secrets", tags=["secrets"])

SecretName = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=255, description="As in {{ secrets.NAME }}."
    ),
]


class SecretOut(BaseModel):
    name: str
    created_at: datetime
    updated_at: datetime


class SecretIn(BaseModel):
    value: str = Field(
        min_length=1, max_length=65536, description="Stored encrypted; never shown again."
    )


@router.get("", response_model=list[SecretOut])
async def secrets_list(user: CurrentUser, conn: ConnDep) -> list[dict[str, Any]]:
    """The names of my secrets (values are never returned)."""
    return await secrets.list_secrets(conn, user)


@router.put(
    "/{name}",
    response_model=SecretOut,
    responses={201: {"model": SecretOut, "description": "A new secret was stored."}},
)
async def secret_put(
    name: SecretName, body: SecretIn, request: Request, user: CurrentUser, conn: ConnDep
) -> JSONResponse:
    """Store a secret (201) or replace its value (200); use it as {{ secrets.NAME }}."""
    row = await secrets.put_secret(conn, user, request.app.state.box, name, body.value)
    out = SecretOut.model_validate(row).model_dump(mode="json")
    return JSONResponse(out, status_code=201 if row["created"] else 200)


@router.delete("/{name}", status_code=204)
async def secret_delete(name: SecretName, user: CurrentUser, conn: ConnDep) -> Response:
    """Delete a secret; workflows that use it fail at the step that needs it."""
    await secrets.delete_secret(conn, user, name)
    return Response(status_code=204)

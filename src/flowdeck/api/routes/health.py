"""Liveness and readiness probes, for people and for orchestrators."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from flowdeck.db.migrate import status
from flowdeck.errors import FlowdeckError
from flowdeck.http.bodies import BoundedRoute

router = APIRouter(route_class=BoundedRoute, tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request) -> dict[str, Any] | JSONResponse:
    """The database answers and every migration this version ships is applied, unchanged."""
    try:
        state = await asyncio.to_thread(
            status, request.app.state.database_url, request.app.state.migrations
        )
    except FlowdeckError as exc:
        return _unready(str(exc))
    if not state.current:
        reasons = [f"{file.name} is not applied" for file in state.pending] + state.problems()
        return _unready("; ".join(reasons))
    ready: dict[str, Any] = {"status": "ready", "migrations": len(state.applied)}
    if state.unknown:
        ready["newer_migrations"] = state.unknown
    return ready


def _unready(reason: str) -> JSONResponse:
    return JSONResponse(status_code=503, content={"status": "unavailable", "reason": reason})

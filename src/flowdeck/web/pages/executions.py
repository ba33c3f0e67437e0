"""/executions: the history with filters, and one execution's timeline with its actions.

The execution page follows a running execution live: its script listens to the API's
event stream and, on each event, fetches `/executions/{id}/live` — the timeline and
step list rendered by the same templates as the page — and swaps it in.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from flowdeck.api.deps import ConnDep
from flowdeck.api.pagination import MAX_LIMIT
from flowdeck.api.routes import executions as executions_api
from flowdeck.api.routes import signals as signals_api
from flowdeck.api.routes import workflows as workflows_api
from flowdeck.db.queries import query
from flowdeck.db.types import Conn
from flowdeck.definition.checks import steps_by_id
from flowdeck.engine.states import FINAL, ExecutionStatus
from flowdeck.web import timeline
from flowdeck.web.render import fragment, page, redirect
from flowdeck.web.routing import PageRoute
from flowdeck.web.session import Viewer, ViewerDep, checked_form

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 50
SIGNAL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
STATUSES = ("queued", "running", "waiting", "succeeded", "failed", "cancelled", "skipped")


async def _names(conn: Conn, who: Viewer, items: list[dict[str, Any]]) -> dict[str, str]:
    """Display names of the workflows and templates the listed executions ran."""
    workflow_ids = list({i["user_workflow_id"] for i in items if i["user_workflow_id"]})
    template_ids = list({i["template_id"] for i in items if i["template_id"]})
    names: dict[str, str] = {}
    cur = await conn.execute(
        query("web", "workflow_names"), {"user_id": who.user.id, "ids": workflow_ids}
    )
    names.update({str(row["id"]): row["name"] for row in await cur.fetchall()})
    cur = await conn.execute(query("web", "template_names"), {"ids": template_ids})
    names.update({row["id"]: row["name"] for row in await cur.fetchall()})
    return names


@router.get("/executions")
async def history(
    request: Request,
    who: ViewerDep,
    conn: ConnDep,
    status: str = "",
    workflow: str = "",
    cursor: str | None = None,
) -> Response:
    """Every execution of mine, newest first, by status and by workflow."""
    try:
        workflow_id = UUID(workflow) if workflow else None
    except ValueError:
        workflow_id = None  # a hand-edited URL: show everything rather than fail
    listed = await executions_api.list_executions(
        who.user,
        conn,
        status=status if status in STATUSES else None,  # type: ignore[arg-type]  # checked here
        workflow_id=workflow_id,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    mine = await workflows_api.list_workflows(who.user, conn, sort="name", limit=MAX_LIMIT)
    return page(
        request,
        "executions.html",
        who,
        items=listed["items"],
        names=await _names(conn, who, listed["items"]),
        next_cursor=listed["next_cursor"],
        statuses=STATUSES,
        status=status,
        workflow=workflow,
        workflows=mine["items"],
    )


async def _view(conn: Conn, who: Viewer, execution_id: UUID) -> dict[str, Any]:
    """What the page and its live part show: the execution, its steps, its timeline."""
    execution = await executions_api.get_execution(execution_id, who.user, conn)
    cur = await conn.execute(
        query("web", "execution_definition"), {"id": execution_id, "user_id": who.user.id}
    )
    row = await cur.fetchone()
    definition = (row["definition"] if row else None) or {}
    declared = steps_by_id(definition.get("steps"))
    steps = execution["steps"]
    names = await _names(conn, who, [execution])
    return {
        "execution": execution,
        "definition": definition,
        "declared": declared,
        "steps": steps,
        "timeline": timeline.build(execution, steps),
        "statuses": {step["step_id"]: step["status"] for step in steps},
        "final": ExecutionStatus(execution["status"]) in FINAL,
        "source_name": names.get(
            str(execution["user_workflow_id"] or execution["template_id"]), "(deleted)"
        ),
    }


@router.get("/executions/{execution_id}")
async def execution_page(
    execution_id: UUID, request: Request, who: ViewerDep, conn: ConnDep
) -> Response:
    """One execution: step timeline, each step's arguments, output, logs and error."""
    return page(request, "execution.html", who, **await _view(conn, who, execution_id))


@router.get("/executions/{execution_id}/live")
async def execution_live(execution_id: UUID, who: ViewerDep, conn: ConnDep) -> Response:
    """The changing part of the execution page, for the live refresh."""
    return fragment("execution_live.html", who=who, **await _view(conn, who, execution_id))


@router.post("/executions/{execution_id}/cancel")
async def cancel(execution_id: UUID, request: Request, who: ViewerDep, conn: ConnDep) -> Response:
    await checked_form(request, who)
    done = await executions_api.cancel_execution(execution_id, who.user, conn)
    notice = "Cancelled." if done["status"] == "cancelled" else "It stops at its next step."
    return redirect(f"/executions/{execution_id}", notice)


@router.post("/executions/{execution_id}/retry")
async def retry(execution_id: UUID, request: Request, who: ViewerDep, conn: ConnDep) -> Response:
    await checked_form(request, who)
    new = await executions_api.retry_execution(execution_id, who.user, conn)
    return redirect(f"/executions/{new['id']}", "Retrying from the step that failed.")


@router.post("/executions/{execution_id}/rerun")
async def rerun(execution_id: UUID, request: Request, who: ViewerDep, conn: ConnDep) -> Response:
    await checked_form(request, who)
    new = await executions_api.rerun_execution(execution_id, who.user, conn, None)
    return redirect(f"/executions/{new['id']}", "Running again with the same inputs.")


@router.post("/executions/{execution_id}/decide")
async def decide(execution_id: UUID, request: Request, who: ViewerDep, conn: ConnDep) -> Response:
    """Approve or reject a waiting step: its signal with {approved, by, comment}."""
    form = await checked_form(request, who)
    signal = form.get("signal")
    if not isinstance(signal, str) or SIGNAL_NAME.fullmatch(signal) is None:
        return redirect(f"/executions/{execution_id}", "No such step to decide.", kind="error")
    comment = form.get("comment")
    approved = form.get("decision") == "approve"
    payload = {
        "approved": approved,
        "by": who.user.display_name or who.user.email,
        "comment": comment.strip() if isinstance(comment, str) else "",
    }
    await signals_api.send_signal(execution_id, signal, who.user, conn, payload)
    word = "Approved" if approved else "Rejected"
    return redirect(f"/executions/{execution_id}", f"{word}; the execution goes on.")

"""/executions: the history with filters, and one execution's timeline with its actions.

The execution page follows a running execution live: its script listens to the API's
event stream and, on each event, fetches `/executions/{id}/live` — the timeline and
step list rendered by the same templates as the page — and swaps it in.
"""

from __future__ import annotations

import re
from typing import Any, get_args
from uuid import UUID

from fastapi import APIRouter, Request, Response

from flowdeck.db.types import Conn
from flowdeck.engine.states import FINAL, ExecutionStatus
from flowdeck.http.session import ConnDep
from flowdeck.services import executions, workflows
from flowdeck.services.executions import ExecutionQuery, Status
from flowdeck.services.paging import MAX_LIMIT
from flowdeck.services.workflows import WorkflowQuery
from flowdeck.web import timeline
from flowdeck.web.render import fragment, page, redirect
from flowdeck.web.routing import PageRoute
from flowdeck.web.session import Viewer, ViewerDep, checked_form

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 50
SIGNAL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
STATUSES: tuple[Status, ...] = get_args(Status)


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
    asked = ExecutionQuery(
        status=next((known for known in STATUSES if known == status), None),
        workflow_id=workflow_id,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    listed = await executions.list_executions(conn, who.user, asked)
    mine = await workflows.list_workflows(
        conn, who.user, WorkflowQuery(sort="name", limit=MAX_LIMIT)
    )
    return page(
        request,
        "executions.html",
        who,
        items=listed["items"],
        names=await executions.source_names(conn, who.user, listed["items"]),
        next_cursor=listed["next_cursor"],
        statuses=STATUSES,
        status=status,
        workflow=workflow,
        workflows=mine["items"],
    )


async def _view(conn: Conn, who: Viewer, execution_id: UUID) -> dict[str, Any]:
    """What the page and its live part show: the execution, its steps, its timeline."""
    execution = await executions.get_execution(conn, who.user, execution_id)
    definition, declared = await executions.definition_steps(conn, who.user, execution_id)
    steps = execution["steps"]
    names = await executions.source_names(conn, who.user, [execution])
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
    done = await executions.cancel(conn, who.user, execution_id)
    notice = "Cancelled." if done["status"] == "cancelled" else "It stops at its next step."
    return redirect(f"/executions/{execution_id}", notice)


@router.post("/executions/{execution_id}/retry")
async def retry(execution_id: UUID, request: Request, who: ViewerDep, conn: ConnDep) -> Response:
    await checked_form(request, who)
    new = await executions.retry(conn, who.user, execution_id)
    return redirect(f"/executions/{new['id']}", "Retrying from the step that failed.")


@router.post("/executions/{execution_id}/rerun")
async def rerun(execution_id: UUID, request: Request, who: ViewerDep, conn: ConnDep) -> Response:
    await checked_form(request, who)
    new = await executions.rerun(conn, who.user, execution_id)
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
    await executions.send_signal(conn, who.user, execution_id, signal, payload)
    word = "Approved" if approved else "Rejected"
    return redirect(f"/executions/{execution_id}", f"{word}; the execution goes on.")

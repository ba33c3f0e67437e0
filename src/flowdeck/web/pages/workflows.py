"""/workflows: my workflows, and one workflow's page (diagram, editor, run form, history).

Reads and changes go through the services the REST API uses too, so the page and
the API cannot disagree on a rule (validation, ownership, counters).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from flowdeck.db.types import Conn
from flowdeck.definition.issues import DefinitionError
from flowdeck.http.bodies import document_limits
from flowdeck.http.session import ConnDep
from flowdeck.services import executions, triggers, workflows
from flowdeck.services.errors import Conflict, Invalid, NotFound
from flowdeck.services.executions import ExecutionQuery
from flowdeck.services.workflows import WorkflowQuery
from flowdeck.web import inputs_form
from flowdeck.web.render import page, redirect
from flowdeck.web.routing import PageRoute
from flowdeck.web.session import Viewer, ViewerDep, checked_form
from flowdeck.web.yaml_lines import LineIssue, check_definition_text, definition_yaml

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 50
RECENT_RUNS = 10


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


@router.get("/workflows")
async def workflows_page(
    request: Request,
    who: ViewerDep,
    conn: ConnDep,
    q: str = "",
    category: str = "",
    favorites: str = "",  # "true" when ticked; anything else (a hand-edited URL) is off
    cursor: str | None = None,
) -> Response:
    """My workflows: search, category, favorites; last run and how often each ran."""
    only_favorites = favorites == "true"
    asked = WorkflowQuery(
        category=category or None,
        favorite=True if only_favorites else None,
        q=q.strip() or None,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    listed = await workflows.list_workflows(conn, who.user, asked)
    items = listed["items"]
    last_runs = await workflows.last_runs(conn, who.user, [w["id"] for w in items])
    categories = await workflows.categories(conn, who.user)
    filtered = bool(q or category or only_favorites)
    return page(
        request,
        "workflows.html",
        who,
        items=items,
        last_runs=last_runs,
        categories=categories,
        q=q,
        category=category,
        favorites=only_favorites,
        filtered=filtered,
        next_cursor=listed["next_cursor"],
    )


@router.post("/workflows/{workflow_id}/favorite")
async def toggle_favorite(
    workflow_id: UUID, request: Request, who: ViewerDep, conn: ConnDep
) -> Response:
    """Star or unstar; answered with JSON for the in-place toggle, else a redirect back."""
    form = await checked_form(request, who)
    wanted = form.get("favorite") == "true"
    saved = await workflows.update_workflow(conn, who.user, workflow_id, {"is_favorite": wanted})
    if request.headers.get("x-requested-with") == "fetch":
        return JSONResponse({"is_favorite": saved["is_favorite"]})
    return redirect(_back(form.get("back")))


def _back(target: object) -> str:
    return target if isinstance(target, str) and target.startswith("/workflows") else "/workflows"


@router.post("/workflows/{workflow_id}/duplicate")
async def duplicate(workflow_id: UUID, request: Request, who: ViewerDep, conn: ConnDep) -> Response:
    await checked_form(request, who)
    copy = await workflows.duplicate_workflow(conn, who.user, workflow_id)
    return redirect(f"/workflows/{copy['id']}", f"Made a copy: {copy['name']}.")


@router.post("/workflows/{workflow_id}/delete")
async def delete(workflow_id: UUID, request: Request, who: ViewerDep, conn: ConnDep) -> Response:
    await checked_form(request, who)
    workflow = await workflows.get_workflow(conn, who.user, workflow_id)
    await workflows.delete_workflow(conn, who.user, workflow_id)
    return redirect("/workflows", f"Deleted {workflow['name']} and its history.")


async def _workflow_page(
    request: Request,
    who: Viewer,
    conn: Conn,
    workflow_id: UUID,
    *,
    status_code: int = 200,
    editor_text: str | None = None,
    editor_issues: list[LineIssue] | None = None,
    run_given: dict[str, Any] | None = None,
    run_issues: list[str] | None = None,
) -> Response:
    workflow = await workflows.get_workflow(conn, who.user, workflow_id)
    its_triggers = await triggers.list_triggers(conn, who.user, workflow_id)
    recent = await executions.list_executions(
        conn, who.user, ExecutionQuery(workflow_id=workflow_id, limit=RECENT_RUNS)
    )
    definition = workflow["definition"]
    declared = definition.get("inputs") or {}
    given = {**(workflow["config"] or {}), **(run_given or {})}
    return page(
        request,
        "workflow.html",
        who,
        status_code=status_code,
        workflow=workflow,
        triggers=its_triggers,
        recent=recent["items"],
        editor_text=editor_text if editor_text is not None else definition_yaml(definition),
        editor_issues=editor_issues or [],
        run_fields=inputs_form.fields(declared, given),
        run_issues=run_issues or [],
        run_key=secrets.token_urlsafe(12),
    )


@router.get("/workflows/{workflow_id}")
async def workflow_page(
    workflow_id: UUID, request: Request, who: ViewerDep, conn: ConnDep
) -> Response:
    """One workflow: overview, diagram, definition editor, run form, runs, triggers."""
    return await _workflow_page(request, who, conn, workflow_id)


async def _check(request: Request, text: str) -> tuple[dict[str, Any] | None, list[LineIssue]]:
    # In a thread: the YAML is parsed in Python, and a large text (within the document
    # limits) would keep every other request waiting on the event loop meanwhile.
    return await asyncio.to_thread(check_definition_text, text, document_limits(request))


@router.post("/workflows/{workflow_id}/validate")
async def validate(workflow_id: UUID, request: Request, who: ViewerDep) -> Response:
    """The editor's live check: every problem of the text with its line (nothing saved)."""
    form = await checked_form(request, who)
    raw = form.get("definition")
    # Not stripped: the lines must be counted as the editor shows them.
    _, issues = await _check(request, raw if isinstance(raw, str) else "")
    return JSONResponse(
        {
            "workflow_id": str(workflow_id),
            "issues": [{"line": i.line, "path": i.path, "message": i.message} for i in issues],
        }
    )


@router.post("/workflows/{workflow_id}/definition")
async def save_definition(
    workflow_id: UUID, request: Request, who: ViewerDep, conn: ConnDep
) -> Response:
    """Save the edited definition, or show the page again with each problem at its line."""
    form = await checked_form(request, who)
    raw = form.get("definition")
    text = raw if isinstance(raw, str) else ""
    definition, issues = await _check(request, text)
    if definition is not None:
        try:
            await workflows.update_workflow(conn, who.user, workflow_id, {"definition": definition})
        except Invalid as error:
            # The definition is sound but the saved config no longer fits its inputs.
            issues = [LineIssue(None, d.path, d.message) for d in error.issues]
        else:
            return redirect(f"/workflows/{workflow_id}#definition", "Definition saved.")
    return await _workflow_page(
        request,
        who,
        conn,
        workflow_id,
        status_code=422,
        editor_text=text,
        editor_issues=issues,
    )


@router.post("/workflows/{workflow_id}/details")
async def save_details(
    workflow_id: UUID, request: Request, who: ViewerDep, conn: ConnDep
) -> Response:
    """Rename, describe, categorise."""
    form = await checked_form(request, who)
    name = _text(form.get("name"))
    if not name:
        return redirect(f"/workflows/{workflow_id}", "A workflow needs a name.", kind="error")
    changes = {
        "name": name[:255],
        "description": _text(form.get("description")) or None,
        "category": _text(form.get("category"))[:100] or None,
    }
    await workflows.update_workflow(conn, who.user, workflow_id, changes)
    return redirect(f"/workflows/{workflow_id}", "Saved.")


@router.post("/workflows/{workflow_id}/run")
async def run(workflow_id: UUID, request: Request, who: ViewerDep, conn: ConnDep) -> Response:
    """Start an execution with the form's inputs and go to its page to watch it."""
    form = await checked_form(request, who)
    workflow = await workflows.get_workflow(conn, who.user, workflow_id)
    declared = workflow["definition"].get("inputs") or {}
    key = _text(form.get("run_key"))
    try:
        inputs = inputs_form.read(declared, form, document_limits(request))
        execution_id, _ = await executions.start(
            conn,
            who.user,
            workflow_id=workflow_id,
            inputs=inputs,
            trigger="manual",
            # One click, one run: a double submit of the same form finds the same run.
            idempotency_key=f"web-run:{key}" if key else None,
        )
    except (DefinitionError, Invalid) as error:
        return await _workflow_page(
            request,
            who,
            conn,
            workflow_id,
            status_code=422,
            run_given={f.name: form.get(f.form_name) for f in inputs_form.fields(declared)},
            run_issues=[str(issue) for issue in error.issues],
        )
    except (NotFound, Conflict) as error:  # deleted or made inactive meanwhile
        return redirect(f"/workflows/{workflow_id}", error.message, kind="error")
    return redirect(f"/executions/{execution_id}")

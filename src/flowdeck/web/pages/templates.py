"""/templates: the catalog by category, a template's page, and "Use this template"."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from fastapi import APIRouter, Request, Response

from flowdeck.definition.issues import DefinitionError
from flowdeck.http.session import ConnDep
from flowdeck.services import catalog as templates
from flowdeck.services import workflows
from flowdeck.services.errors import Invalid
from flowdeck.services.paging import MAX_LIMIT
from flowdeck.web import inputs_form
from flowdeck.web.render import page, redirect
from flowdeck.web.routing import PageRoute
from flowdeck.web.session import Viewer, ViewerDep, checked_form

router = APIRouter(route_class=PageRoute, include_in_schema=False)

UNCATEGORISED = "other"


@router.get("/templates")
async def catalog(
    request: Request, who: ViewerDep, conn: ConnDep, q: str = "", category: str = ""
) -> Response:
    """Every active template, grouped by category, most used first; searchable."""
    listed = await templates.list_templates(
        conn, category=category or None, q=q.strip() or None, limit=MAX_LIMIT
    )

    def category_of(template: dict[str, Any]) -> str:
        return str(template["category"] or UNCATEGORISED)

    ordered = sorted(listed["items"], key=category_of)  # stable: popularity within a group
    groups = [(name, list(items)) for name, items in groupby(ordered, key=category_of)]
    return page(
        request,
        "templates.html",
        who,
        groups=groups,
        categories=await templates.categories(conn),
        q=q,
        category=category,
        total=len(listed["items"]),
    )


async def _template_page(
    request: Request,
    who: Viewer,
    conn: ConnDep,
    template_id: str,
    *,
    status_code: int = 200,
    name: str | None = None,
    given: dict[str, Any] | None = None,
    issues: list[str] | None = None,
) -> Response:
    template = await templates.get_template(conn, template_id)
    return page(
        request,
        "template.html",
        who,
        status_code=status_code,
        template=template,
        name=name if name is not None else template["name"],
        fields=inputs_form.fields(template["inputs"] or {}, given),
        issues=issues or [],
    )


@router.get("/templates/{template_id}")
async def template_page(
    template_id: str, request: Request, who: ViewerDep, conn: ConnDep
) -> Response:
    """A template: its goal, its inputs, its steps as a diagram, and the form to use it."""
    return await _template_page(request, who, conn, template_id)


@router.post("/templates/{template_id}/use")
async def use_template(
    template_id: str, request: Request, who: ViewerDep, conn: ConnDep
) -> Response:
    """Make a workflow of the template with a name and values for its inputs."""
    form = await checked_form(request, who)
    template = await templates.get_template(conn, template_id)
    declared = template["inputs"] or {}
    raw_name = form.get("name")
    name = raw_name.strip() if isinstance(raw_name, str) else ""
    typed = {f.name: form.get(f.form_name) for f in inputs_form.fields(declared)}
    try:
        config = inputs_form.read(declared, form)
        created = await workflows.create_from_template(
            conn, who.user, template_id, name=name[:255] or None, config=config
        )
    except DefinitionError as error:
        problems = [str(issue) for issue in error.issues]
    except Invalid as error:
        problems = [f"{d.path}: {d.message}" for d in error.issues] or [error.message]
    else:
        return redirect(f"/workflows/{created['id']}", f"Created {created['name']}.")
    return await _template_page(
        request,
        who,
        conn,
        template_id,
        status_code=422,
        name=name,
        given=typed,
        issues=problems,
    )

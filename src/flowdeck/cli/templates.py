"""`flowdeck templates list|show|sync`: browse the template catalog (over the API), and
add or update its built-in templates (on the database, for the operator)."""

from __future__ import annotations

from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from flowdeck.cli.common import (
    CursorOption,
    JsonFlag,
    LimitOption,
    compact,
    connect,
    more_hint,
    print_json,
)
from flowdeck.cli.console import highlighted_out, out
from flowdeck.client import Page, TemplateSummary

app = typer.Typer(help="The template catalog.", no_args_is_help=True)


@app.command("sync")
def templates_sync() -> None:
    """Add and update the built-in templates (usage counts are kept)."""
    # On the database, unlike list and show: imported when it runs, so that the database
    # driver and the catalog stay out of the client commands' imports.
    from flowdeck.catalog.sync import sync_builtin_templates
    from flowdeck.cli import database

    result = database.run(sync_builtin_templates)
    highlighted_out.print(
        f"Templates: {len(result.inserted)} added, {len(result.updated)} updated, "
        f"{len(result.unchanged)} unchanged."
    )


@app.command("list")
def list_templates(
    search: Annotated[
        str | None, typer.Option("--search", "-q", help="Words in name, goal or category.")
    ] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    sort: Annotated[str, typer.Option(help="popularity or name.")] = "popularity",
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    every: Annotated[bool, typer.Option("--all", help="Every page, not only the first.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Browse the template catalog (over the API), most used first."""
    order: Literal["popularity", "name"] = "name" if sort == "name" else "popularity"
    with connect() as client:
        if every:
            every_one = client.all(
                client.list_templates, search=search, category=category, sort=order, limit=200
            )
            page = Page[TemplateSummary](items=list(every_one))
        else:
            page = client.list_templates(
                search=search, category=category, sort=order, limit=limit, cursor=cursor
            )
    if as_json:
        print_json(page)
        return
    table = Table()
    table.add_column("id", no_wrap=True)
    table.add_column("name")
    table.add_column("category", no_wrap=True)
    table.add_column("uses", justify="right")
    for template in page.items:
        table.add_row(
            template.id, escape(template.name), template.category or "", str(template.usage_count)
        )
    out.print(table if page.items else "No templates match.")
    more_hint(page.next_cursor)


@app.command("show")
def show_template(
    template_id: Annotated[
        str, typer.Argument(help="The template's id, e.g. website-uptime-check.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """One template: its goal, inputs and steps."""
    with connect() as client:
        template = client.get_template(template_id)
    if as_json:
        print_json(template)
        return
    out.print(f"[bold]{escape(template.name)}[/bold] ({template.id}, {template.category or '-'})")
    if template.goal:
        out.print(escape(template.goal))
    inputs = Table(title="Inputs", title_justify="left")
    for heading in ("name", "type", "required", "default", "description"):
        inputs.add_column(heading)
    for name, spec in template.inputs.items():
        inputs.add_row(
            name,
            str(spec.get("type", "")),
            "yes" if spec.get("required") else "",
            escape(compact(spec["default"])) if "default" in spec else "",
            escape(str(spec.get("description", ""))),
        )
    out.print(inputs)
    out.print("Steps:")
    for step in template.steps:
        label = f" — {step['name']}" if step.get("name") else ""
        out.print(f"  {escape(str(step.get('id')))} ({step.get('type')}){escape(label)}")
    out.print(f"Make it yours: flowdeck workflows create --from-template {template.id}")

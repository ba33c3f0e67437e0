"""`flowdeck workflows ...`: your workflows over the API."""

from __future__ import annotations

import sys
from pathlib import Path
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
    find_workflow,
    more_hint,
    parse_pairs,
    print_json,
    when,
)
from flowdeck.cli.completion import workflow_names
from flowdeck.cli.console import err, out
from flowdeck.cli.editing import edit_workflow, print_saved
from flowdeck.client import Page, WorkflowSummary
from flowdeck.errors import ConfigError

app = typer.Typer(help="Your workflows: list, create, edit, export, import.", no_args_is_help=True)

WorkflowRef = Annotated[
    str, typer.Argument(help="The workflow's id or exact name.", autocompletion=workflow_names)
]
Format = Annotated[str, typer.Option("--format", help="yaml or json.")]


def _format(text: str) -> Literal["yaml", "json"]:
    if text not in ("yaml", "json"):
        raise typer.BadParameter("use yaml or json", param_hint="--format")
    return "json" if text == "json" else "yaml"


@app.command("list")
def list_workflows(
    search: Annotated[
        str | None, typer.Option("--search", "-q", help="Text in the name or description.")
    ] = None,
    favorite: Annotated[bool, typer.Option("--favorite", help="Only favorites.")] = False,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    every: Annotated[bool, typer.Option("--all", help="Every page, not only the first.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Your workflows, most recently changed first."""
    only_favorites = True if favorite else None
    with connect() as client:
        if every:
            every_one = client.all(
                client.list_workflows,
                search=search,
                favorite=only_favorites,
                category=category,
                limit=200,
            )
            page = Page[WorkflowSummary](items=list(every_one))
        else:
            page = client.list_workflows(
                search=search,
                favorite=only_favorites,
                category=category,
                limit=limit,
                cursor=cursor,
            )
    if as_json:
        print_json(page)
        return
    table = Table()
    for heading in ("id", "name", "template", "runs", "last run"):
        table.add_column(heading, no_wrap=heading != "name")
    for w in page.items:
        star = " ★" if w.is_favorite else ""
        table.add_row(
            str(w.id),
            escape(w.name) + star,
            w.template_id or "",
            str(w.execution_count),
            when(w.last_used),
        )
    out.print(
        table if page.items else "No workflows yet: flowdeck workflows create --from-template ID"
    )
    more_hint(page.next_cursor)


@app.command("show")
def show(workflow: WorkflowRef, as_json: JsonFlag = False) -> None:
    """One workflow: its inputs, config and steps."""
    with connect() as client:
        found = find_workflow(client, workflow)
    if as_json:
        print_json(found)
        return
    out.print(f"[bold]{escape(found.name)}[/bold] ({found.id})")
    if found.description:
        out.print(escape(found.description))
    out.print(f"  template: {found.template_id or '-'}   category: {found.category or '-'}")
    out.print(f"  runs: {found.execution_count}   last run: {when(found.last_used) or '-'}")
    out.print(f"  inputs: {', '.join(found.definition.get('inputs', {})) or '-'}")
    out.print(f"  config: {escape(compact(found.config))}")
    out.print("Steps:")
    for step in found.definition.get("steps", []):
        out.print(f"  {escape(str(step.get('id')))} ({step.get('type')})")


@app.command("create")
def create(
    from_template: Annotated[
        str, typer.Option("--from-template", help="The template's id (see `templates list`).")
    ],
    name: Annotated[str | None, typer.Option(help="Default: the template's name.")] = None,
    description: Annotated[str | None, typer.Option(help="Default: the template's goal.")] = None,
    config: Annotated[
        list[str] | None,
        typer.Option("--config", "-c", help="A value for a declared input, name=value."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make a workflow of a template (write one from scratch with `workflows import`)."""
    values = parse_pairs(config, "--config")
    with connect() as client:
        made = client.create_workflow_from_template(
            from_template, name=name, description=description, config=values
        )
    if as_json:
        print_json(made)
        return
    out.print(f"Created workflow {made.name!r} ({made.id}) from template {from_template}.")
    err.print(f"Run it: flowdeck run {made.id} --wait")


@app.command("edit")
def edit(workflow: WorkflowRef) -> None:
    """Edit a workflow's YAML in $EDITOR; it is validated and saved when you close it."""
    with connect() as client:
        saved = edit_workflow(client, find_workflow(client, workflow))
    if saved is None:
        out.print("No changes.")
    else:
        print_saved(saved)


@app.command("export")
def export(
    workflow: WorkflowRef,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    format: Format = "yaml",
) -> None:
    """The workflow as a portable document (what `workflows import` takes)."""
    with connect() as client:
        document = client.export_workflow(
            find_workflow(client, workflow).id, format=_format(format)
        )
    if output is None:
        sys.stdout.write(document if document.endswith("\n") else document + "\n")
    else:
        output.write_text(document, encoding="utf-8")
        err.print(f"Wrote {output}.")


@app.command("import")
def import_(
    file: Annotated[str, typer.Argument(help="A YAML or JSON document; - for stdin.")],
    as_json: JsonFlag = False,
) -> None:
    """Create a workflow from a document (problems are listed with their paths)."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read {file}: {exc.strerror or exc}") from None
    kind: Literal["yaml", "json"] = "json" if file.endswith(".json") else "yaml"
    with connect() as client:
        made = client.import_workflow(text, format=kind)
    if as_json:
        print_json(made)
    else:
        out.print(f"Imported workflow {made.name!r} ({made.id}).")


@app.command("delete")
def delete(
    workflow: WorkflowRef,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
) -> None:
    """Delete a workflow and all its executions."""
    with connect() as client:
        found = find_workflow(client, workflow)
        if not yes:
            question = f"Delete {found.name!r} and its {found.execution_count} execution(s)?"
            typer.confirm(question, abort=True, err=True)
        client.delete_workflow(found.id)
    out.print(f"Deleted workflow {found.name!r} ({found.id}).")

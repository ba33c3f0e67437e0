"""`flowdeck run` and `flowdeck executions ...`: start, list, read, follow, cancel, retry."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
from rich.markup import escape
from rich.table import Table

from flowdeck.cli.common import (
    CursorOption,
    InputsFileOption,
    InputsOption,
    JsonFlag,
    LimitOption,
    WaitFlag,
    compact,
    connect,
    find_workflow,
    more_hint,
    print_json,
    read_inputs,
    styled,
    took,
    when,
)
from flowdeck.cli.completion import execution_ids, workflow_names
from flowdeck.cli.console import EXIT_EXECUTION_FAILED, err, out
from flowdeck.cli.progress import follow
from flowdeck.client import Client, Execution, FlowdeckApiError

app = typer.Typer(
    help="Your executions: list, inspect, follow, cancel, retry.", no_args_is_help=True
)

ExecutionId = Annotated[
    str, typer.Argument(help="The execution's id.", autocompletion=execution_ids)
]


def run(
    workflow: Annotated[
        str, typer.Argument(help="The workflow's id or name.", autocompletion=workflow_names)
    ],
    inputs: InputsOption = None,
    inputs_file: InputsFileOption = None,
    wait: WaitFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Run one of your workflows; --wait shows its steps live (exit 3 if it fails)."""
    given = read_inputs(inputs, inputs_file)
    with connect() as client:
        found = find_workflow(client, workflow)
        execution = client.run_workflow(found.id, given, trigger="manual")
        if not as_json:
            out.print(f"Execution {execution.id} of {found.name!r}: {execution.status}")
        _finish(client, execution, wait=wait, as_json=as_json)


def _finish(client: Client, execution: Execution, *, wait: bool, as_json: bool) -> None:
    """After starting one: follow it (--wait), print JSON (--json), set the exit code."""
    if not wait:
        if as_json:
            print_json(execution)
        return
    final = follow(client, str(execution.id), show=not as_json)
    if as_json:
        print_json(client.get_execution(execution.id))
    if final.status != "succeeded":
        raise typer.Exit(EXIT_EXECUTION_FAILED)


@app.command("list")
def list_executions(
    workflow: Annotated[
        str | None,
        typer.Option(
            "--workflow",
            "-w",
            help="Only this workflow's (id or name).",
            autocompletion=workflow_names,
        ),
    ] = None,
    status: Annotated[str | None, typer.Option(help="Only those in this status.")] = None,
    limit: LimitOption = 20,
    cursor: CursorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Your executions, newest first."""
    with connect() as client:
        workflow_id = find_workflow(client, workflow).id if workflow else None
        page = client.list_executions(
            workflow_id=workflow_id, status=status, limit=limit, cursor=cursor
        )
        if as_json:
            print_json(page)
            return
        names = _workflow_names(client, {e.user_workflow_id for e in page.items})
    table = Table()
    for heading in ("id", "workflow", "status", "trigger", "started", "took"):
        table.add_column(heading, no_wrap=heading != "workflow")
    for e in page.items:
        source = names.get(str(e.user_workflow_id)) or f"template {e.template_id}"
        table.add_row(
            str(e.id),
            escape(source),
            styled(e.status),
            e.trigger,
            when(e.created_at),
            took(e.duration),
        )
    if page.items:
        out.print(table)
    else:
        out.print("No executions yet.")
    more_hint(page.next_cursor)


def _workflow_names(client: Client, ids: set[UUID | None]) -> dict[str, str]:
    names: dict[str, str] = {}
    for workflow_id in ids - {None}:
        try:
            names[str(workflow_id)] = client.get_workflow(str(workflow_id)).name
        except FlowdeckApiError:
            names[str(workflow_id)] = str(workflow_id)  # deleted meanwhile
    return names


@app.command("show")
def show(execution_id: ExecutionId, as_json: JsonFlag = False) -> None:
    """One execution: its status, inputs, outputs and every step."""
    with connect() as client:
        execution = client.get_execution(execution_id)
    if as_json:
        print_json(execution)
        return
    source = execution.user_workflow_id or f"template {execution.template_id}"
    out.print(f"Execution {execution.id}  {styled(execution.status)}")
    out.print(f"  workflow: {source}   trigger: {execution.trigger}   attempt: {execution.attempt}")
    out.print(f"  created:  {when(execution.created_at)}   took: {took(execution.duration) or '-'}")
    if execution.retry_of:
        out.print(f"  retry of: {execution.retry_of}")
    out.print(f"  inputs:   {escape(compact(execution.inputs))}")
    if execution.final:
        out.print(f"  outputs:  {escape(compact(execution.outputs))}")
    if execution.error:
        out.print(f"  [red]error:[/red]    {escape(compact(execution.error))}")
    table = Table(title="Steps", title_justify="left")
    for heading in ("step", "type", "status", "attempt", "took", "error"):
        table.add_column(heading)
    for step in execution.steps:
        error = escape(str(step.error.get("message", ""))) if step.error else ""
        table.add_row(
            escape(step.path),
            step.step_type,
            styled(step.status),
            str(step.attempt),
            took(step.duration),
            error,
        )
    out.print(table)


@app.command("logs")
def logs(execution_id: ExecutionId, as_json: JsonFlag = False) -> None:
    """The log lines the steps wrote, in order."""
    with connect() as client:
        execution = client.get_execution(execution_id)
    lines = [{"path": step.path, **line} for step in execution.steps for line in step.logs]
    if as_json:
        print_json(lines)
        return
    if not lines:
        err.print("No log lines.")
    for line in lines:
        level = str(line.get("level", "info"))
        style = {"warning": "yellow", "error": "red"}.get(level, "dim")
        at = str(line.get("at", ""))[11:19]
        out.print(
            f"{at} [{style}]{level:<7}[/{style}] {escape(line['path'])}: "
            f"{escape(str(line.get('message', '')))}",
            soft_wrap=True,
        )


@app.command("tail")
def tail(execution_id: ExecutionId) -> None:
    """Follow an execution's steps live until it ends (exit 3 if it did not succeed)."""
    with connect() as client:
        final = follow(client, execution_id)
    if final.status != "succeeded":
        raise typer.Exit(EXIT_EXECUTION_FAILED)


@app.command("cancel")
def cancel(execution_id: ExecutionId, as_json: JsonFlag = False) -> None:
    """Cancel: at once when queued or waiting, at its next step when running."""
    with connect() as client:
        execution = client.cancel_execution(execution_id)
    if as_json:
        print_json(execution)
    elif execution.status == "cancelled":
        out.print(f"Execution {execution.id}: cancelled.")
    else:
        out.print(f"Execution {execution.id}: cancel requested; it stops at its next step.")


@app.command("retry")
def retry(execution_id: ExecutionId, wait: WaitFlag = False, as_json: JsonFlag = False) -> None:
    """Run a failed or cancelled execution again from the step that failed."""
    with connect() as client:
        execution = client.retry_execution(execution_id)
        if not as_json:
            out.print(f"Execution {execution.id} retries {execution_id}: {execution.status}")
        _finish(client, execution, wait=wait, as_json=as_json)


@app.command("rerun")
def rerun(
    execution_id: ExecutionId,
    inputs: InputsOption = None,
    inputs_file: InputsFileOption = None,
    wait: WaitFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Run the same workflow again from the start, with the same inputs or new ones."""
    given = read_inputs(inputs, inputs_file) if inputs or inputs_file else None
    with connect() as client:
        execution = client.rerun_execution(execution_id, given)
        if not as_json:
            out.print(f"Execution {execution.id} reruns {execution_id}: {execution.status}")
        _finish(client, execution, wait=wait, as_json=as_json)

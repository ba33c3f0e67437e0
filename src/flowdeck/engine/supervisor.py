"""Runs a worker as a child process, so that no user work runs in the process that
answers HTTP, and a worker that user work broke is replaced rather than lost.

`flowdeck serve` (unless --no-worker) and `flowdeck worker` each run one of these. The
supervisor:

- starts `flowdeck worker --no-supervisor` with a watchdog page (watchdog.py), and
  starts it again when it exits, after 1 s, doubling to a minute while it keeps dying
  young;
- watches the page: a worker whose event loop was held longer than
  FLOWDECK_WORKER_BLOCK_SECONDS is killed; the step it was evaluating fails (named, with
  the limit), the other executions it held go back to the queue, and a new worker starts
  at once. A worker held outside any expression counts a crash for each execution it
  held (see flowdeck_record_crash);
- on stop(), asks the worker to stop (SIGTERM: it drains within its grace period) and
  kills it if it does not.

The child dies with its supervisor (PR_SET_PDEATHSIG on Linux), so killing a supervisor
with -9 does what killing an unsupervised worker does.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from flowdeck.db.queries import query
from flowdeck.engine import lifecycle
from flowdeck.engine.watchdog import Mark, Reader

log = logging.getLogger(__name__)

Q = "executions"
WATCH_INTERVAL = 0.2  # seconds between looks at the worker
MAX_BACKOFF = 60.0  # seconds between restarts of a worker that keeps dying young
HEALTHY_AFTER = 60.0  # a worker that ran this long starts the backoff again from 1 s
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class SupervisorSettings:
    database_url: str
    block_seconds: float = 10.0
    crash_limit: int = 3
    grace: float = 10.0  # what the worker gets to drain on SIGTERM (its --grace)


class WorkerSupervisor:
    def __init__(
        self, worker_args: Sequence[str], env: dict[str, str], settings: SupervisorSettings
    ) -> None:
        self.settings = settings
        self.worker_args = list(worker_args)
        self.env = env
        self.child: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.stalls = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- running in a thread (serve) or in the calling thread (worker) --------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="worker-supervisor", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Make run() stop its worker and return (safe from a signal handler)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop the worker (gracefully, then by force) and the supervising loop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.grace + 15)

    def run(self) -> None:
        with tempfile.TemporaryDirectory(prefix="flowdeck-watchdog-") as page_dir:
            reader = Reader(Path(page_dir) / "page")
            command = [
                sys.executable,
                "-m",
                "flowdeck",
                "worker",
                "--no-supervisor",
                "--watchdog-file",
                str(reader.path),
                *self.worker_args,
            ]
            self._supervise(command, reader)

    def _supervise(self, command: list[str], reader: Reader) -> None:
        backoff = 1.0
        try:
            while not self._stop.is_set():
                reader.reset()
                started = time.monotonic()
                try:
                    # Our own interpreter and arguments: nothing here comes from input.
                    child = self.child = subprocess.Popen(command, env=self.env)  # noqa: S603
                except OSError as exc:  # out of processes or memory: try again later
                    ended = f"could not start ({exc})"
                else:
                    stalled = self._watch(child, reader)
                    if self._stop.is_set():
                        break
                    if stalled:
                        continue  # the worker was fine; the step was not: start again now
                    ended = f"exited with {_describe(child.returncode)}"
                if time.monotonic() - started > HEALTHY_AFTER:
                    backoff = 1.0
                log.warning("the worker %s; starting a new one in %.0f s", ended, backoff)
                self.restarts += 1
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            if self.child is not None:
                self._terminate(self.child)

    def _watch(self, child: subprocess.Popen[bytes], reader: Reader) -> bool:
        """Until the child exits (False), stalls (True), or we are asked to stop."""
        while not self._stop.wait(WATCH_INTERVAL):
            if child.poll() is not None:
                return False
            silence = reader.silence()
            if silence is not None and silence > self.settings.block_seconds:
                self._stalled(child, reader)
                return True
        return False

    def _terminate(self, child: subprocess.Popen[bytes]) -> None:
        if child.poll() is not None:
            return
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=self.settings.grace + 10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    # --- a stalled worker -----------------------------------------------------------------

    def _stalled(self, child: subprocess.Popen[bytes], reader: Reader) -> None:
        mark, worker_id = reader.mark(), reader.worker_id()
        child.kill()  # first: while it lives it holds the leases and may write
        child.wait()
        self.stalls += 1
        where = f"step {mark.step} ({mark.where})" if mark else "outside any step"
        log.error(
            "the worker %s was held for more than %g s %s; killed it, starting a new one",
            worker_id,
            self.settings.block_seconds,
            where,
        )
        try:
            self._record_stall(worker_id, mark)
        except psycopg.Error as exc:  # the rescuer counts it when the leases expire
            log.warning("could not record the stall (%s); the rescuer will", exc)

    def _record_stall(self, worker_id: str, mark: Mark | None) -> None:
        """Fail the step the worker was stuck in (and release the rest), or, when it was
        stuck outside any expression, count a crash for each execution it held."""
        # This thread runs no event loop (it watches a process): one for the transaction.
        asyncio.run(self._record_stall_in(worker_id, mark))

    async def _record_stall_in(self, worker_id: str, mark: Mark | None) -> None:
        limit = self.settings.block_seconds
        async with (
            await psycopg.AsyncConnection.connect(
                self.settings.database_url, connect_timeout=10, row_factory=dict_row
            ) as conn,
            conn.transaction(),
        ):
            if mark is None:
                reason = f"its worker was held for more than {limit:g} s"
                await lifecycle.crash(conn, worker_id, reason, self.settings.crash_limit)
            else:
                error = {
                    "message": f"{mark.where}: the step held its worker for more than "
                    f"{limit:g} s (FLOWDECK_WORKER_BLOCK_SECONDS); the worker was restarted",
                    "path": mark.where,
                    "step": mark.step,
                }
                step = {"path": mark.step, "step_id": mark.step_id, "step_type": mark.step_type}
                await lifecycle.fail_stalled(conn, UUID(mark.execution_id), worker_id, step, error)
                await lifecycle.release(conn, worker_id, None)
            # Parents of what ended here are woken by the rescuer's wake_ready.
            await conn.execute(query(Q, "notify_queued"))


def _describe(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return f"signal {signal.Signals(-returncode).name}"
    return f"code {returncode}"


# --- in the supervised child ---------------------------------------------------------------


def die_with_parent() -> None:
    """Ask Linux to kill this process when its supervisor dies (elsewhere: nothing)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the supervisor was already gone before the call
        os._exit(1)


def cap_memory(megabytes: int) -> None:
    """Refuse this process's allocations past `megabytes` MiB: a step that asks for more
    gets a MemoryError (a failed step), never the machine's out-of-memory killer.

    RLIMIT_DATA counts what a process writes to (heap and private mappings), not the
    address space it reserves (thread arenas, mapped libraries), so it caps real use.
    """
    if megabytes <= 0:
        return
    kind = resource.RLIMIT_DATA if sys.platform.startswith("linux") else resource.RLIMIT_AS
    limit = megabytes * 1024 * 1024
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(kind, (limit, hard))

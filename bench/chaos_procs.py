"""The chaos benchmark's Flowdeck processes: `flowdeck serve --no-worker` and the workers
it kills with SIGKILL and replaces.

Each process runs in a session (and process group) of its own, so that a kill reaches
everything it started and a stop never touches anything else; its output is drained
by a thread (a full pipe would block it) and the last lines are kept for the report.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque

WORKER_READY = re.compile(r"Worker \S+ running")


class Proc:
    """One `flowdeck ...` subprocess; `ready` is set once a line matched `watch`."""

    def __init__(self, args: list[str], env: dict[str, str], watch: re.Pattern[str]) -> None:
        self.args = args
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flowdeck", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.started = time.monotonic()
        self.tail: deque[str] = deque(maxlen=30)
        self.lines: list[str] = []  # every line up to the one that matched `watch`
        self.watch = watch
        self.match: re.Match[str] | None = None
        self.ready_after: float | None = None  # seconds from start to the `watch` line
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.tail.append(line.rstrip())
            if not self.ready.is_set():
                self.lines.append(line)
                match = self.watch.search(line)
                if match:
                    self.match = match
                    self.ready_after = time.monotonic() - self.started
                    self.ready.set()

    def wait_ready(self, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"flowdeck {' '.join(self.args)} was not ready "
                    f"(exit code {self.process.poll()}):\n" + "\n".join(self.tail)
                )
        assert self.match is not None
        return self.match

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to its whole process group, and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, grace: float = 10) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        self.kill()  # also whatever it left in its group


class Workers:
    """W `flowdeck worker` processes, kept at W: killed ones and dead ones are replaced."""

    def __init__(self, env: dict[str, str], count: int, concurrency: int, lease: float) -> None:
        self.env = env
        self.count = count
        self.args = ["worker", "--concurrency", str(concurrency), "--lease", f"{lease:g}"]
        self.procs: list[Proc] = []
        self.kills = 0
        self.exits: list[str] = []  # workers that ended on their own: their last line
        self.startups: list[float] = []  # seconds each killed worker took to start

    def start(self, wait: float = 60) -> None:
        """Start the first W and wait until each claims work."""
        for _ in range(self.count):
            self.procs.append(Proc(self.args, self.env, WORKER_READY))
        for proc in self.procs:
            proc.wait_ready(wait)

    def kill_one(self, rng: random.Random) -> bool:
        """kill -9 one worker that is running (a replacement still starting up has no
        work to lose), chosen at random, and start its replacement; False if none is."""
        running = [proc for proc in self.procs if proc.alive() and proc.ready.is_set()]
        if not running:
            return False
        victim = rng.choice(running)
        victim.kill()
        self.kills += 1
        self.procs.remove(victim)
        self.startups.append(victim.ready_after or 0.0)
        self.procs.append(Proc(self.args, self.env, WORKER_READY))
        return True

    def reap(self) -> None:
        """Replace the workers that exited on their own (one that starts while the
        database restarts cannot connect and exits, for one)."""
        for proc in list(self.procs):
            if not proc.alive():
                self.exits.append(proc.tail[-1] if proc.tail else f"exit {proc.process.poll()}")
                self.procs.remove(proc)
        while len(self.procs) < self.count:
            self.procs.append(Proc(self.args, self.env, WORKER_READY))

    def stop_all(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.process.pid, signal.SIGTERM)
        for proc in self.procs:
            proc.stop(grace=5)

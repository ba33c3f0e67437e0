"""Helpers for tests that run `flowdeck` as a subprocess, as a person would."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx


def flowdeck_env(**settings: str | Path) -> dict[str, str]:
    """This environment without any FLOWDECK_* variable, plus `settings` (FLOWDECK_<KEY>)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLOWDECK_")}
    env.update({f"FLOWDECK_{key.upper()}": str(value) for key, value in settings.items()})
    return env


def run_flowdeck(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion and capture what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "flowdeck", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class ServeProcess:
    """`flowdeck serve --port 0` in a subprocess, with its output readable line by line."""

    READY = re.compile(r"Uvicorn running on (http://\S+)")

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flowdeck", "serve", "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.base_url = self.wait_for(self.READY).group(1)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 60) -> re.Match[str]:
        """Block until a line of output matches; fail with the output so far if it never does."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                raise AssertionError(
                    f"no line matched {pattern.pattern!r} in {timeout}s:\n{self.text}"
                ) from None
            if line is None:
                self._lines.put(None)  # keep the end marker for drain()
                raise AssertionError(
                    f"flowdeck serve exited ({self.process.wait()}) before {pattern.pattern!r}:\n"
                    f"{self.text}"
                )
            self.output.append(line)
            match = pattern.search(line)
            if match:
                return match

    @property
    def text(self) -> str:
        return "".join(self.output)

    def output_so_far(self) -> str:
        """Everything printed until now, without waiting for more."""
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return self.text
            if line is None:
                self._lines.put(None)  # keep the end marker for drain()
                return self.text
            self.output.append(line)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base_url + path, timeout=10)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        """Send `sig` and wait for the process to exit; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        self.drain()
        return code

    def drain(self) -> None:
        """Collect what is left of the output after the process has exited."""
        while (line := self._lines.get(timeout=30)) is not None:
            self.output.append(line)
        assert self.process.stdout is not None
        self.process.stdout.close()


_T = TypeVar("_T")


def run_async(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """`asyncio.run`, also where this thread already runs an event loop.

    Playwright's sync API keeps a loop running in the main thread during browser
    tests; there the coroutine runs in a thread of its own instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()

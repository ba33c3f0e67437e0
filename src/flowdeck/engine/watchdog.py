"""The shared page through which a supervised worker tells its supervisor it is alive,
and what user work it is evaluating right now.

A step that holds the worker's event loop (one slow filter on long text, a regular
expression that backtracks for minutes) stops every other execution of that worker, and
may hold the GIL, so no thread of the worker could notice it. Its supervisor, another
process, can: the worker's loop writes a heartbeat into a small memory-mapped file every
tenth of a second, and the runner writes which execution and step it is evaluating
before it evaluates and clears it after. When the heartbeat is older than
FLOWDECK_WORKER_BLOCK_SECONDS, the supervisor reads the mark, kills the worker, fails
that step and starts a new worker (see supervisor.py).

Layout of the page: the heartbeat (a double, time.monotonic(), which is the same clock
in every process of the machine), the length of the mark (0: evaluating nothing), the
worker's id, and the mark itself: execution id, step path, step id, step type and
definition path, one per line. Only the worker writes; the supervisor reads when the
worker is stuck, so there is nothing to race with.
"""

from __future__ import annotations

import asyncio
import mmap
import struct
import time
from dataclasses import dataclass
from pathlib import Path

PAGE_SIZE = 4096
_BEAT = struct.Struct("d")  # offset 0
_LENGTH = struct.Struct("I")  # offset 8
_WORKER_AT, _WORKER_SIZE = 16, 112
_MARK_AT = 128
BEAT_INTERVAL = 0.1  # seconds between heartbeats


@dataclass(frozen=True)
class Mark:
    """What the worker was evaluating when it stopped answering."""

    execution_id: str
    step: str  # the step's path in the execution ("fetch", "loop[3].notify"); "" for none
    step_id: str
    step_type: str
    where: str  # the place in the definition ("steps[1].with")


class Board:
    """The worker's side of the page."""

    def __init__(self, path: Path, worker_id: str) -> None:
        self._file = path.open("r+b")
        self._page = mmap.mmap(self._file.fileno(), PAGE_SIZE)
        encoded = worker_id.encode()[:_WORKER_SIZE]
        self._page[_WORKER_AT : _WORKER_AT + _WORKER_SIZE] = encoded.ljust(_WORKER_SIZE, b"\0")
        self.beat()

    def beat(self) -> None:
        _BEAT.pack_into(self._page, 0, time.monotonic())

    def mark(self, mark: Mark) -> None:
        fields = (mark.execution_id, mark.step, mark.step_id, mark.step_type, mark.where)
        data = "\n".join(fields).encode()[: PAGE_SIZE - _MARK_AT]
        self._page[_MARK_AT : _MARK_AT + len(data)] = data
        _LENGTH.pack_into(self._page, 8, len(data))

    def clear(self) -> None:
        _LENGTH.pack_into(self._page, 8, 0)

    async def beat_forever(self) -> None:
        """Heartbeat from the event loop: it stops exactly when the loop is held."""
        while True:
            self.beat()
            await asyncio.sleep(BEAT_INTERVAL)


_board: Board | None = None  # set in a supervised worker process only


def install(path: Path, worker_id: str) -> Board:
    """Make this process write its heartbeat and marks to the page at `path`."""
    global _board
    _board = Board(path, worker_id)
    return _board


def current_board() -> Board | None:
    """This process's page, when a supervisor watches it; else None."""
    return _board


class Reader:
    """The supervisor's side of the page: made empty before the worker starts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.write_bytes(b"\0" * PAGE_SIZE)

    def reset(self) -> None:
        self.path.write_bytes(b"\0" * PAGE_SIZE)

    def _read(self) -> bytes:
        return self.path.read_bytes()[:PAGE_SIZE].ljust(PAGE_SIZE, b"\0")

    def silence(self) -> float | None:
        """Seconds since the worker's last heartbeat; None before its first."""
        (beat,) = _BEAT.unpack_from(self._read(), 0)
        return None if beat == 0 else time.monotonic() - beat

    def worker_id(self) -> str:
        raw = self._read()[_WORKER_AT : _WORKER_AT + _WORKER_SIZE]
        return raw.rstrip(b"\0").decode(errors="replace")

    def mark(self) -> Mark | None:
        page = self._read()
        (length,) = _LENGTH.unpack_from(page, 8)
        if not length:
            return None
        parts = page[_MARK_AT : _MARK_AT + length].decode(errors="replace").split("\n")
        if len(parts) != 5:
            return None
        return Mark(*parts)

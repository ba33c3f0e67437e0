"""The embedded server as a newcomer meets it: no URL, only a data directory.

Each test gets a data directory of its own, so it starts its own server cold.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from flowdeck.db.embedded import EmbeddedPostgres, _pid_alive
from tests.helpers import ServeProcess, flowdeck_env, run_flowdeck

pytestmark = pytest.mark.embedded


def _postmaster_pid(data_dir: Path) -> int | None:
    return EmbeddedPostgres(data_dir).postmaster_pid


def _wait_until_gone(pid: int) -> bool:
    """pg_ctl stop waits for the server, so by the time flowdeck exits it is gone;
    reap it quickly if it is our grandchild zombie."""
    return not _pid_alive(pid) or Path(f"/proc/{pid}/status").read_text().find("zombie") != -1


def test_serve_starts_the_embedded_server_and_stops_it_on_sigterm(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServeProcess(flowdeck_env(data_dir=data_dir))
    try:
        ready = server.get("/readyz")
        postmaster = _postmaster_pid(data_dir)
    finally:
        code = server.stop(signal.SIGTERM)
    assert ready.status_code == 200, server.text
    assert ready.json()["status"] == "ready"
    assert (data_dir / "pgdata" / "PG_VERSION").is_file()
    assert postmaster is not None
    assert code == 0, server.text
    assert _wait_until_gone(postmaster), "the embedded server outlived flowdeck serve"
    assert "Traceback" not in server.text


def test_ctrl_c_stops_serve_and_the_server_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServeProcess(flowdeck_env(data_dir=data_dir))
    postmaster = _postmaster_pid(data_dir)
    code = server.stop(signal.SIGINT)
    assert postmaster is not None
    assert code == 0, server.text
    assert _wait_until_gone(postmaster)
    assert "Aborted" not in server.text and "Traceback" not in server.text


def test_after_kill_9_the_next_start_reuses_the_server_and_later_stops_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = ServeProcess(flowdeck_env(data_dir=data_dir))
    postmaster = _postmaster_pid(data_dir)
    first.stop(signal.SIGKILL)
    assert postmaster is not None
    assert _pid_alive(postmaster), "kill -9 of flowdeck does not stop the server"

    second = ServeProcess(flowdeck_env(data_dir=data_dir))
    try:
        ready = second.get("/readyz")
        reused = _postmaster_pid(data_dir)
    finally:
        code = second.stop(signal.SIGTERM)
    assert ready.status_code == 200, second.text
    assert reused == postmaster
    assert code == 0, second.text
    # The dead process's handle was pruned, so the last live user stopped the server.
    assert _wait_until_gone(postmaster)


def test_migrate_and_verify_on_the_embedded_server(tmp_path: Path) -> None:
    env = flowdeck_env(data_dir=tmp_path / "data")
    migrated = run_flowdeck("db", "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "Applied" in migrated.stdout
    verified = run_flowdeck("db", "verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "The schema matches the migrations." in verified.stdout
    # Each command released the server as it exited.
    assert _postmaster_pid(tmp_path / "data") is None


def test_an_unusable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("this is a file")
    result = run_flowdeck("db", "migrate", env=flowdeck_env(data_dir=not_a_dir))
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert f"error: The data directory {not_a_dir} exists but is not a directory" in message
    assert "FLOWDECK_DATA_DIR" in message
    assert "Traceback" not in result.stdout + result.stderr


def test_two_processes_share_one_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServeProcess(flowdeck_env(data_dir=data_dir))
    try:
        postmaster = _postmaster_pid(data_dir)
        status = run_flowdeck("db", "status", env=flowdeck_env(data_dir=data_dir))
        still_running = _postmaster_pid(data_dir)
        ready = server.get("/readyz")
    finally:
        server.stop()
    assert status.returncode == 0, status.stderr
    assert "0 pending." in status.stdout
    assert still_running == postmaster, "a second process's exit stopped the shared server"
    assert ready.status_code == 200
    assert os.path.exists(data_dir / "pgdata" / "PG_VERSION")


def test_a_socket_outside_the_data_dir_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Unix socket names are limited to ~107 bytes: a long path pushes the socket elsewhere.
    data_dir = tmp_path / ("long-" * 12) / "data"
    embedded = EmbeddedPostgres(data_dir)
    with caplog.at_level("WARNING", logger="flowdeck.db.embedded"):
        embedded.start()
    embedded.stop()
    assert "the embedded server's socket is in" in caplog.text
    assert "Use a shorter FLOWDECK_DATA_DIR" in caplog.text

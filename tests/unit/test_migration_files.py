"""The packaged migration files: order, the seed verbatim, statement splitting, status logic."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from flowdeck.db.migrate import AppliedMigration, MigrationFile, compare, load_migrations
from tests.conftest import FIXTURES

EXPECTED_FIRST_FILES = [
    "000_create_migrations_table.sql",
    "001_users.sql",
    "002_workflow_executions.sql",
    "003_workflow_templates.sql",
    "004_user_workflows.sql",
]


def test_files_come_in_numbered_name_order_with_unique_numbers() -> None:
    names = [file.name for file in load_migrations()]
    assert names[:5] == EXPECTED_FIRST_FILES
    numbers = [name.split("_", 1)[0] for name in names]
    assert all(re.fullmatch(r"\d{3}", number) for number in numbers)
    assert len(set(numbers)) == len(numbers) == len(names)


def test_every_sql_block_of_the_seed_is_in_the_migrations_verbatim() -> None:
    seed = (FIXTURES / "seed-database-schema.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", seed, re.DOTALL)
    assert len(blocks) == 4
    files = {file.name: file.sql for file in load_migrations()}
    assert blocks[0] in files["003_workflow_templates.sql"]
    for block in blocks[1:]:
        assert block in files["004_user_workflows.sql"]
    # And in the seed's order: templates, user workflows, executions changes, triggers.
    user_workflows = files["004_user_workflows.sql"]
    positions = [user_workflows.index(block) for block in blocks[1:]]
    assert positions == sorted(positions)


def test_a_dollar_quoted_function_body_stays_one_statement() -> None:
    file = next(f for f in load_migrations() if f.name == "004_user_workflows.sql")
    function = [s for s in file.statements if "CREATE OR REPLACE FUNCTION" in s.sql]
    assert len(function) == 1
    assert "RETURN NEW;" in function[0].sql
    assert function[0].sql.rstrip().endswith("language 'plpgsql';")


def test_statements_know_their_number_and_the_line_their_code_starts_on() -> None:
    file = MigrationFile(
        "009_x.sql",
        "-- header comment\nCREATE TABLE a (id int);\n\n"
        "-- why\nINSERT INTO a VALUES (1);\n-- end\n",
    )
    assert [(s.number, s.line) for s in file.statements] == [(1, 2), (2, 5)]
    assert file.statements[1].sql.strip().endswith("INSERT INTO a VALUES (1);")


def test_checksum_is_the_sha256_of_the_text() -> None:
    assert MigrationFile("a.sql", "SELECT 1;").checksum == hashlib.sha256(b"SELECT 1;").hexdigest()
    assert (
        MigrationFile("a.sql", "SELECT 1;").checksum != MigrationFile("a.sql", "SELECT 2;").checksum
    )


def _applied(file: MigrationFile, checksum: str | None = None) -> AppliedMigration:
    return AppliedMigration(file.name, checksum or file.checksum, datetime.now(UTC), 3)


def test_compare_sorts_files_into_pending_changed_and_unknown() -> None:
    one, two, three = (MigrationFile(f"00{n}_f.sql", f"SELECT {n};") for n in (1, 2, 3))
    gone = MigrationFile("000_gone.sql", "SELECT 0;")
    state = compare([_applied(gone), _applied(one), _applied(two, "0" * 64)], [one, two, three])
    assert [file.name for file in state.pending] == ["003_f.sql"]
    assert state.changed == ["002_f.sql"]
    assert state.unknown == ["000_gone.sql"]
    assert not state.current
    assert state.problems() == [
        "002_f.sql was changed after it was applied (its checksum differs); restore the file, "
        "or add a new migration instead of editing an applied one"
    ]
    assert state.warnings() == [
        "000_gone.sql was applied by a newer version of Flowdeck than this one"
    ]


def test_files_applied_by_a_newer_version_leave_the_database_current() -> None:
    files = load_migrations()
    newer = MigrationFile("999_newer.sql", "SELECT 1;")
    state = compare([_applied(file) for file in [*files, newer]], files)
    assert state.current
    assert state.unknown == ["999_newer.sql"]


def test_compare_reports_current_when_everything_matches() -> None:
    files = load_migrations()
    assert compare([_applied(file) for file in files], files).current

"""Legacy databases whose columns differ from what the migrations expect (issue 12 §7):
adoption converts them before the migrations run, keeps every row and value, says what it
changed, and refuses what it cannot convert before changing anything."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from flowdeck.db.adopt import AdoptionError
from flowdeck.db.migrate import MigrationReport, load_migrations, run_migrations
from flowdeck.db.schema import snapshot, verify
from tests.conftest import FIXTURES
from tests.helpers import flowdeck_env, run_flowdeck

ALL_FILES = [file.name for file in load_migrations()]

TEXT_ERROR = "legacy_database_text_error.sql"
ORM_TYPES = "legacy_database_orm_types.sql"
INTEGER_IDS = "legacy_database_integer_ids.sql"

TEXT_ERROR_REPORT = [
    "workflow_executions.error: text → jsonb (9 rows: 1 JSON object kept, "
    '5 wrapped as {"message": ...}, 1 empty → NULL, 2 NULL)'
]

ORM_TYPES_REPORT = [
    "users.email: text → character varying(255) (2 rows)",
    "users.password_hash: character varying(255) → text (2 rows)",
    "users.created_at: timestamp without time zone → timestamp with time zone "
    "(2 values read as UTC)",
    "users.updated_at: timestamp without time zone → timestamp with time zone "
    "(2 values read as UTC)",
    "workflow_executions.template_id: text → character varying(255) (5 rows)",
    "workflow_executions.status: execution_status (an enum) → character varying(50) (5 rows)",
    "workflow_executions.status: set NOT NULL (no row is NULL)",
    "workflow_executions.input: renamed from inputs",
    "workflow_executions.input: json → jsonb (4 values kept as they were)",
    "workflow_executions.output: renamed from result",
    "workflow_executions.output: text → jsonb (5 rows: 2 parsed as JSON, 1 kept as a JSON string, "
    "1 empty → NULL, 1 NULL)",
    "workflow_executions.error: json → jsonb (5 rows: 1 JSON object kept, "
    '1 wrapped as {"message": ...}, 3 NULL)',
    "workflow_executions.created_at: timestamp without time zone → timestamp with time zone "
    "(5 values read as UTC)",
    "workflow_executions.started_at: timestamp without time zone → timestamp with time zone "
    "(4 values read as UTC)",
    "workflow_executions.finished_at: renamed from completed_at",
    "workflow_executions.finished_at: timestamp without time zone → timestamp with time zone "
    "(4 values read as UTC)",
]

INTERRUPTED = {
    "message": "Interrupted by the upgrade to Flowdeck: it was {} and recorded no definition "
    "to resume from."
}


def _load(url: str, fixture: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute((FIXTURES / fixture).read_text(encoding="utf-8").encode("utf-8"))
    return url


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql.encode("utf-8")).fetchall()


def _by_id(url: str, sql: str) -> dict[str, tuple[Any, ...]]:
    return {str(row[0])[-1]: row[1:] for row in _rows(url, sql)}


def _interrupted(status: str) -> dict[str, str]:
    return {"message": INTERRUPTED["message"].format(status)}


@pytest.fixture
def text_error_url(empty_db_url: str) -> str:
    return _load(empty_db_url, TEXT_ERROR)


@pytest.fixture
def orm_types_url(empty_db_url: str) -> str:
    return _load(empty_db_url, ORM_TYPES)


EXECUTIONS = (
    "SELECT id, template_id, user_id, input, output, created_at, started_at, finished_at "
    "FROM workflow_executions ORDER BY id"
)
USERS = "SELECT id, email, password_hash, created_at, updated_at FROM users ORDER BY id"


def test_a_text_error_column_is_adopted_keeping_every_row(text_error_url: str) -> None:
    users = _rows(text_error_url, USERS)
    executions = _rows(text_error_url, EXECUTIONS)
    report = run_migrations(text_error_url)
    assert [str(adoption) for adoption in report.adopted] == TEXT_ERROR_REPORT
    assert report.applied == ALL_FILES
    assert _rows(text_error_url, USERS) == users
    assert _rows(text_error_url, EXECUTIONS) == executions
    after = _by_id(text_error_url, "SELECT id, status, error FROM workflow_executions")
    assert after == {
        "1": ("succeeded", None),  # '' was the legacy "no error"
        "2": ("failed", {"message": "timed out after 10s"}),
        "3": ("failed", {"message": "x", "code": 502}),  # a JSON object, kept
        "4": ("failed", {"message": '"quoted"'}),  # JSON, but not an object: the text, whole
        "5": ("failed", {"message": "[1, 2]"}),
        "6": ("failed", {"message": "{HTTP 502: bad gateway}"}),
        "7": ("failed", {"message": "Traceback:\n  KeyError: 'items'"}),
        "8": ("succeeded", None),
        "9": ("cancelled", _interrupted("running")),  # 008, as for any legacy database
    }


def test_a_database_the_previous_version_stopped_at_008_is_adopted_too(
    text_error_url: str,
) -> None:
    # What `flowdeck db migrate` left before adoption existed: 000-007 applied, each in its
    # own transaction, and 008 rolled back ("CASE types text and jsonb cannot be matched").
    files = load_migrations()
    with psycopg.connect(text_error_url, autocommit=True) as conn:
        for file in files[:8]:
            conn.execute(file.sql.encode("utf-8"))
            conn.execute(
                "INSERT INTO schema_migrations (filename, checksum, duration_ms) "
                "VALUES (%s, %s, 0)",
                (file.name, file.checksum),
            )
    report = run_migrations(text_error_url)
    assert [str(adoption) for adoption in report.adopted] == TEXT_ERROR_REPORT
    assert report.applied == ALL_FILES[8:]
    assert verify(text_error_url) == []


def test_orm_made_types_and_names_are_adopted_keeping_every_value(orm_types_url: str) -> None:
    users = _rows(orm_types_url, USERS)
    before = _by_id(
        orm_types_url,
        "SELECT id, template_id, user_id, created_at, started_at, completed_at "
        "FROM workflow_executions",
    )
    report = run_migrations(orm_types_url)
    assert [str(adoption) for adoption in report.adopted] == ORM_TYPES_REPORT
    assert report.applied == ALL_FILES
    # Timestamps without time zone were UTC: the same instants, now with their zone.
    utc = [
        (uid, email, password, created.replace(tzinfo=UTC), updated.replace(tzinfo=UTC))
        for uid, email, password, created, updated in users
    ]
    assert _rows(orm_types_url, USERS) == utc
    assert utc[1][3] == datetime(2025, 4, 11, 14, 30, 0, 123456, tzinfo=UTC)
    after = _by_id(
        orm_types_url,
        "SELECT id, template_id, user_id, created_at, started_at, finished_at "
        "FROM workflow_executions",
    )
    assert after == {
        key: tuple(
            value.replace(tzinfo=UTC) if isinstance(value, datetime) else value for value in row
        )
        for key, row in before.items()
    }
    documents = _by_id(
        orm_types_url, "SELECT id, status, input, output, error FROM workflow_executions"
    )
    assert documents == {
        "1": (
            "succeeded",
            {"url": "https://example.com", "retries": 2},
            {"status": 200, "elapsed_ms": 412},
            None,
        ),
        "2": (
            "failed",
            {"url": "https://example.org"},
            None,
            {"message": "timed out after 10s", "step": "fetch"},
        ),
        "3": ("succeeded", ["postgres", "python"], "sent 12 items", None),
        "4": ("failed", None, None, {"message": '"quota exceeded"'}),
        "5": ("cancelled", {"amount": 125.5}, 42, _interrupted("pending")),
    }


@pytest.mark.parametrize("fixture", [TEXT_ERROR, ORM_TYPES])
def test_an_adopted_database_verifies_and_a_second_run_does_nothing(
    empty_db_url: str, fixture: str
) -> None:
    url = _load(empty_db_url, fixture)
    assert run_migrations(url).adopted
    assert verify(url) == []
    schema = snapshot(url)
    assert run_migrations(url) == MigrationReport(adopted=[], applied=[])
    assert snapshot(url) == schema


def test_a_legacy_database_in_the_declared_shape_needs_no_adoption(empty_db_url: str) -> None:
    url = _load(empty_db_url, "legacy_database.sql")
    assert run_migrations(url) == MigrationReport(adopted=[], applied=ALL_FILES)


def test_a_missing_column_is_added_and_a_stray_not_null_dropped(text_error_url: str) -> None:
    with psycopg.connect(text_error_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE workflow_executions DROP COLUMN output")
        conn.execute("ALTER TABLE workflow_executions ALTER COLUMN started_at SET NOT NULL")
    report = run_migrations(text_error_url)
    assert [str(adoption) for adoption in report.adopted] == [
        "workflow_executions.output: added (jsonb; NULL in every row)",
        *TEXT_ERROR_REPORT,
        "workflow_executions.started_at: NOT NULL dropped (the migrations declare it nullable)",
    ]
    assert verify(text_error_url) == []


def test_concurrent_runs_adopt_once(text_error_url: str) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(pool.map(run_migrations, [text_error_url] * 4))
    assert sorted(len(report.adopted) for report in reports) == [0, 0, 0, 1]
    assert sorted(len(report.applied) for report in reports) == [0, 0, 0, len(ALL_FILES)]


def _unchanged_after_refusal(url: str) -> tuple[Any, ...]:
    return (
        snapshot(url),
        _rows(url, "SELECT * FROM users ORDER BY 1"),
        _rows(url, "SELECT * FROM workflow_executions ORDER BY 1"),
    )


def test_integer_ids_are_refused_by_name_and_type_before_anything_changes(
    empty_db_url: str,
) -> None:
    url = _load(empty_db_url, INTEGER_IDS)
    before = _unchanged_after_refusal(url)
    with pytest.raises(AdoptionError) as refused:
        run_migrations(url)
    assert str(refused.value).splitlines() == [
        "Cannot adopt the existing database: Flowdeck cannot convert these columns.",
        "- users.id is integer, expected uuid "
        "(Flowdeck does not convert ids: other tables refer to them).",
        "- workflow_executions.id is bigint, expected uuid "
        "(Flowdeck does not convert ids: other tables refer to them).",
        "- workflow_executions.user_id is integer, expected uuid "
        "(Flowdeck does not convert ids: other tables refer to them).",
        'Nothing was changed. Fix them by hand (see docs/operations.md, "Adopting an existing '
        'database"), then migrate again.',
    ]
    # Not even the error column (convertible on its own) nor the migrations table.
    assert _unchanged_after_refusal(url) == before
    assert "table schema_migrations" not in before[0]


def test_every_problem_is_reported_at_once(text_error_url: str) -> None:
    with psycopg.connect(text_error_url, autocommit=True) as conn:
        for statement in (
            "ALTER TABLE users ALTER COLUMN email DROP NOT NULL",
            "UPDATE users SET email = NULL WHERE email = 'grace@example.com'",
            "ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE workflow_executions DROP COLUMN template_id",
            "ALTER TABLE workflow_executions ALTER COLUMN status TYPE TEXT",
            "UPDATE workflow_executions SET status = repeat('x', 60) WHERE status = 'error'",
        ):
            conn.execute(statement.encode("utf-8"))
    before = _unchanged_after_refusal(text_error_url)
    with pytest.raises(AdoptionError) as refused:
        run_migrations(text_error_url)
    problems = [line for line in str(refused.value).splitlines() if line.startswith("- ")]
    assert problems == [
        "- users.email is NULL in 1 row(s); expected character varying(255) NOT NULL. "
        "Give those rows a value.",
        "- users.is_admin is integer, expected boolean (Flowdeck converts only booleans here).",
        "- workflow_executions.template_id is missing; expected character varying(255) NOT NULL.",
        "- workflow_executions.status is text, expected character varying(50): a value has "
        "60 characters, more than 50. Shorten the longer values.",
    ]
    assert _unchanged_after_refusal(text_error_url) == before


def test_a_conversion_postgresql_refuses_is_rolled_back_and_named(text_error_url: str) -> None:
    # A legacy report view on the column: PostgreSQL will not change the column's type.
    with psycopg.connect(text_error_url, autocommit=True) as conn:
        conn.execute("CREATE VIEW failures AS SELECT id, error FROM workflow_executions")
    before = _unchanged_after_refusal(text_error_url)
    with pytest.raises(AdoptionError) as refused:
        run_migrations(text_error_url)
    message = str(refused.value)
    assert message.startswith(
        f"Adopting {TEXT_ERROR_REPORT[0].replace(': text', ' (text', 1)}) failed: "
        "cannot alter type of a column used by a view or rule\n"
    )
    assert 'Detail: rule _RETURN on view failures depends on column "error"' in message
    assert message.endswith("\nNothing was changed.")
    assert _unchanged_after_refusal(text_error_url) == before


def test_cli_migrate_prints_what_it_adopted(text_error_url: str) -> None:
    env = flowdeck_env(database_url=text_error_url)
    first = run_flowdeck("db", "migrate", env=env)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == f"adopted: {TEXT_ERROR_REPORT[0]}"
    assert lines[1].startswith(f"Applied {len(ALL_FILES)} migration(s): ")
    second = run_flowdeck("db", "migrate", env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout == "The database is up to date; nothing to apply.\n"
    verified = run_flowdeck("db", "verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_cli_migrate_refuses_an_unsupported_shape_without_a_traceback(
    empty_db_url: str,
) -> None:
    url = _load(empty_db_url, INTEGER_IDS)
    result = run_flowdeck("db", "migrate", env=flowdeck_env(database_url=url))
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "error: Cannot adopt the existing database" in message
    assert "- users.id is integer, expected uuid" in message
    assert "Nothing was changed." in message
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""

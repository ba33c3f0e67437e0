"""The database the seed was written to fix: users and an old workflow_executions with rows,
no workflow tables. Migrating it must keep every row and end at the declared schema."""

from __future__ import annotations

import psycopg
import pytest

from flowdeck.db.migrate import load_migrations, migrate
from flowdeck.db.schema import verify
from tests.conftest import FIXTURES
from tests.helpers import flowdeck_env, run_flowdeck

LEGACY_SQL = (FIXTURES / "legacy_database.sql").read_text(encoding="utf-8")

USERS = "SELECT id, email, password_hash, created_at FROM users ORDER BY id"
EXECUTIONS = (
    "SELECT id, template_id, user_id, status, input, output, error, created_at, started_at, "
    "finished_at FROM workflow_executions ORDER BY id"
)


@pytest.fixture
def legacy_url(empty_db_url: str) -> str:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(LEGACY_SQL.encode("utf-8"))
    return empty_db_url


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql.encode("utf-8")).fetchall()


def test_the_fixture_is_the_pre_seed_shape(legacy_url: str) -> None:
    with psycopg.connect(legacy_url) as conn:
        notnull = conn.execute(
            "SELECT attnotnull FROM pg_attribute "
            "WHERE attrelid = 'workflow_executions'::regclass AND attname = 'template_id'"
        ).fetchone()
        missing = conn.execute(
            "SELECT to_regclass('user_workflows'), to_regclass('workflow_templates')"
        ).fetchone()
    assert notnull == (True,)
    assert missing == (None, None)
    assert len(_rows(legacy_url, EXECUTIONS)) == 5


def test_migrating_the_legacy_database_keeps_every_row(legacy_url: str) -> None:
    users_before = _rows(legacy_url, USERS)
    executions_before = _rows(legacy_url, EXECUTIONS)
    assert migrate(legacy_url) == [file.name for file in load_migrations()]
    assert _rows(legacy_url, USERS) == users_before
    # Every execution row is kept; the legacy statuses are mapped onto the engine's, and
    # the ones that can never resume (no definition was recorded) say why they ended.
    status_map = {
        "completed": "succeeded",
        "failed": "failed",
        "running": "cancelled",
        "pending": "cancelled",
    }
    after = _rows(legacy_url, EXECUTIONS)
    assert len(after) == len(executions_before)
    for old, new in zip(executions_before, after, strict=True):
        assert new[3] == status_map[str(old[3])]
        unchanged = [value for index, value in enumerate(old) if index not in (3, 6)]
        assert [value for index, value in enumerate(new) if index not in (3, 6)] == unchanged
        if old[3] in ("running", "pending"):
            assert "Interrupted by the upgrade" in str(new[6])
        else:
            assert new[6] == old[6]
    with psycopg.connect(legacy_url) as conn:
        adopted = conn.execute(
            "SELECT count(*), bool_and(NOT is_admin), bool_and(display_name IS NULL) FROM users"
        ).fetchone()
        sources = conn.execute(
            "SELECT count(*) FROM workflow_executions WHERE user_workflow_id IS NULL "
            "AND template_id IS NOT NULL"
        ).fetchone()
    assert adopted == (3, True, True)
    assert sources == (5,)


def test_the_migrated_legacy_database_matches_the_declared_schema(legacy_url: str) -> None:
    migrate(legacy_url)
    assert verify(legacy_url) == []


def test_the_migrated_legacy_database_takes_new_workflows(legacy_url: str) -> None:
    migrate(legacy_url)
    with psycopg.connect(legacy_url, autocommit=True) as conn:
        workflow = conn.execute(
            "INSERT INTO user_workflows (user_id, name, definition) "
            "VALUES ('8f3c2a1e-0000-4000-8000-000000000001', 'Mine', '{}') RETURNING id"
        ).fetchone()
        assert workflow is not None
        conn.execute(
            "INSERT INTO workflow_executions (user_id, user_workflow_id) "
            "VALUES ('8f3c2a1e-0000-4000-8000-000000000001', %s)",
            workflow,
        )
        count = conn.execute("SELECT count(*) FROM workflow_executions").fetchone()
    assert count == (6,)


def test_cli_migrate_and_verify_on_the_legacy_database(legacy_url: str) -> None:
    env = flowdeck_env(database_url=legacy_url)
    migrated = run_flowdeck("db", "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    verified = run_flowdeck("db", "verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "The schema matches the migrations." in verified.stdout

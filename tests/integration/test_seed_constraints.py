"""The seed's rules as a user of the data sees them: cascades, SET NULL, the source check,
updated_at triggers; and ours on users."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import errors, sql


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


Conn = psycopg.Connection[tuple[object, ...]]


def _one(conn: Conn, statement: str | sql.Composed, *params: object) -> Any:
    """The first column of the only row a statement returns."""
    row = conn.execute(statement, params).fetchone()
    assert row is not None
    return row[0]


def _new_id(conn: Conn, statement: str, *params: object) -> UUID:
    """Run an INSERT ... RETURNING id and return the new row's UUID."""
    new_id = _one(conn, statement, *params)
    assert isinstance(new_id, UUID)
    return new_id


def _user(conn: Conn, email: str = "ada@example.com") -> UUID:
    return _new_id(conn, "INSERT INTO users (email) VALUES (%s) RETURNING id", email)


def _template(conn: Conn, template_id: str = "uptime-check") -> str:
    conn.execute(
        "INSERT INTO workflow_templates (id, name, steps) VALUES (%s, 'Uptime check', '[]')",
        (template_id,),
    )
    return template_id


def _workflow(conn: Conn, user_id: UUID, template_id: str | None = None) -> UUID:
    return _new_id(
        conn,
        "INSERT INTO user_workflows (user_id, template_id, name, definition) "
        "VALUES (%s, %s, 'Check my site', '{\"steps\": []}') RETURNING id",
        user_id,
        template_id,
    )


def _execution(
    conn: Conn, user_id: UUID, *, template_id: str | None, workflow_id: UUID | None
) -> UUID:
    return _new_id(
        conn,
        "INSERT INTO workflow_executions (user_id, template_id, user_workflow_id) "
        "VALUES (%s, %s, %s) RETURNING id",
        user_id,
        template_id,
        workflow_id,
    )


def _count(conn: Conn, table: str) -> int:
    count: int = _one(conn, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
    return count


def test_deleting_a_user_deletes_their_workflows_and_executions(conn: Conn) -> None:
    user = _user(conn)
    other = _user(conn, "grace@example.com")
    workflow = _workflow(conn, user)
    _execution(conn, user, template_id=None, workflow_id=workflow)
    _workflow(conn, other)
    conn.execute("DELETE FROM users WHERE id = %s", (user,))
    assert _count(conn, "user_workflows") == 1
    assert _count(conn, "workflow_executions") == 0


def test_deleting_a_template_keeps_its_workflows_with_template_id_null(conn: Conn) -> None:
    user = _user(conn)
    template = _template(conn)
    workflow = _workflow(conn, user, template)
    conn.execute("DELETE FROM workflow_templates WHERE id = %s", (template,))
    assert _one(conn, "SELECT template_id FROM user_workflows WHERE id = %s", workflow) is None


def test_deleting_a_workflow_deletes_its_executions_only(conn: Conn) -> None:
    user = _user(conn)
    doomed, kept = _workflow(conn, user), _workflow(conn, user)
    _execution(conn, user, template_id=None, workflow_id=doomed)
    survivor = _execution(conn, user, template_id=None, workflow_id=kept)
    conn.execute("DELETE FROM user_workflows WHERE id = %s", (doomed,))
    assert _one(conn, "SELECT array_agg(id) FROM workflow_executions") == [survivor]


def test_an_execution_has_exactly_one_source(conn: Conn) -> None:
    user = _user(conn)
    template = _template(conn)
    workflow = _workflow(conn, user, template)
    with pytest.raises(errors.CheckViolation, match="workflow_executions_source_check"):
        _execution(conn, user, template_id=template, workflow_id=workflow)
    with pytest.raises(errors.CheckViolation, match="workflow_executions_source_check"):
        _execution(conn, user, template_id=None, workflow_id=None)
    _execution(conn, user, template_id=template, workflow_id=None)
    _execution(conn, user, template_id=None, workflow_id=workflow)  # template_id is nullable
    assert _count(conn, "workflow_executions") == 2


def test_a_workflow_of_a_missing_template_or_user_is_refused(conn: Conn) -> None:
    user = _user(conn)
    with pytest.raises(errors.ForeignKeyViolation):
        _workflow(conn, user, "no-such-template")
    with pytest.raises(errors.ForeignKeyViolation):
        _workflow(conn, UUID(int=1))


@pytest.mark.parametrize("table", ["user_workflows", "workflow_templates", "users"])
def test_updated_at_moves_on_update(conn: Conn, table: str) -> None:
    user = _user(conn)
    template = _template(conn)
    row_id = {
        "users": user,
        "workflow_templates": template,
        "user_workflows": _workflow(conn, user),
    }[table]
    name = sql.Identifier(table)
    column = sql.Identifier("email" if table == "users" else "name")
    # Backdate the row with the triggers off, so that a moved updated_at is unmistakable.
    conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(name))
    conn.execute(
        sql.SQL("UPDATE {} SET updated_at = '2001-01-01 00:00:00+00' WHERE id = %s").format(name),
        (row_id,),
    )
    conn.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(name))
    conn.execute(
        sql.SQL("UPDATE {} SET {} = {} || 'x' WHERE id = %s").format(name, column, column),
        (row_id,),
    )
    moved = conn.execute(
        sql.SQL("SELECT updated_at > now() - interval '1 minute' FROM {} WHERE id = %s").format(
            name
        ),
        (row_id,),
    ).fetchone()
    assert moved == (True,)


def test_user_email_is_unique_ignoring_case(conn: Conn) -> None:
    _user(conn, "Ada@Example.com")
    with pytest.raises(errors.UniqueViolation, match="users_email_lower_key"):
        _user(conn, "ada@example.COM")


def test_new_rows_get_the_seed_defaults(conn: Conn) -> None:
    user = _user(conn)
    template = _template(conn)
    workflow = _workflow(conn, user, template)
    row = conn.execute(
        "SELECT config, is_active, is_favorite, execution_count, last_used IS NULL, "
        "created_at IS NOT NULL FROM user_workflows WHERE id = %s",
        (workflow,),
    ).fetchone()
    assert row == ({}, True, False, 0, True, True)
    assert conn.execute(
        "SELECT is_active, usage_count FROM workflow_templates WHERE id = %s", (template,)
    ).fetchone() == (True, 0)

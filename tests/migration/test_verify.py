"""`db verify` finds every way the live schema departs from the migrations."""

from __future__ import annotations

import psycopg

from flowdeck.db.schema import verify
from tests.helpers import flowdeck_env, run_flowdeck


def _alter(url: str, *statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode("utf-8"))


def test_a_freshly_migrated_database_has_no_differences(db_url: str) -> None:
    assert verify(db_url) == []


def test_a_dropped_index_and_a_changed_column_type_are_reported(db_url: str) -> None:
    _alter(
        db_url,
        "DROP INDEX idx_user_workflows_category",
        "ALTER TABLE user_workflows ALTER COLUMN description TYPE VARCHAR(500)",
    )
    reported = [str(difference) for difference in verify(db_url)]
    assert reported == [
        "column user_workflows.description: type is 'character varying(500)', expected 'text'",
        "index idx_user_workflows_category: missing (expected definition 'CREATE INDEX "
        "idx_user_workflows_category ON public.user_workflows USING btree (category)')",
    ]


def test_nullability_defaults_delete_rules_triggers_and_extra_tables_are_reported(
    db_url: str,
) -> None:
    _alter(
        db_url,
        "ALTER TABLE user_workflows ALTER COLUMN name DROP NOT NULL",
        "ALTER TABLE user_workflows ALTER COLUMN execution_count SET DEFAULT 1",
        "ALTER TABLE user_workflows DROP CONSTRAINT user_workflows_template_id_fkey",
        "ALTER TABLE user_workflows ADD CONSTRAINT user_workflows_template_id_fkey "
        "FOREIGN KEY (template_id) REFERENCES workflow_templates(id) ON DELETE CASCADE",
        "DROP TRIGGER update_workflow_templates_updated_at ON workflow_templates",
        "CREATE TABLE scratch_notes (id integer)",
    )
    reported = "\n".join(str(difference) for difference in verify(db_url))
    assert "column user_workflows.name: nullable is 'NULL', expected 'NOT NULL'" in reported
    assert "column user_workflows.execution_count: default is '1', expected '0'" in reported
    assert (
        "user_workflows_template_id_fkey: on delete is 'CASCADE', expected 'SET NULL'" in reported
    )
    assert "trigger workflow_templates.update_workflow_templates_updated_at: missing" in reported
    assert "table scratch_notes: not declared by any migration" in reported


def test_cli_verify_prints_each_difference_and_exits_non_zero(db_url: str) -> None:
    _alter(db_url, "DROP INDEX idx_workflow_templates_category")
    result = run_flowdeck("db", "verify", env=flowdeck_env(database_url=db_url))
    assert result.returncode == 1
    assert "- index idx_workflow_templates_category: missing" in result.stdout
    assert "1 difference(s) between the database and the migrations." in result.stderr


def test_verify_leaves_no_scratch_database_behind(db_url: str) -> None:
    verify(db_url)
    with psycopg.connect(db_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'flowdeck_verify_%'"
        ).fetchone()
    assert left == (0,)

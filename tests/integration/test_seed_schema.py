"""Every table, column, type, default and index of the seed exists as the seed writes it."""

from __future__ import annotations

import psycopg
import pytest

# (column, type, NOT NULL?, default) exactly as the seed declares them.
SEED_COLUMNS: dict[str, list[tuple[str, str, bool, str | None]]] = {
    "workflow_templates": [
        ("id", "character varying(255)", True, None),
        ("name", "character varying(255)", True, None),
        ("goal", "text", False, None),
        ("steps", "jsonb", True, None),
        ("conditions", "jsonb", False, None),
        ("outputs", "jsonb", False, None),
        ("category", "character varying(100)", False, None),
        ("is_active", "boolean", False, "true"),
        ("usage_count", "integer", False, "0"),
        ("created_at", "timestamp without time zone", False, "CURRENT_TIMESTAMP"),
        ("updated_at", "timestamp without time zone", False, "CURRENT_TIMESTAMP"),
    ],
    "user_workflows": [
        ("id", "uuid", True, "gen_random_uuid()"),
        ("user_id", "uuid", True, None),
        ("template_id", "character varying(255)", False, None),
        ("name", "character varying(255)", True, None),
        ("description", "text", False, None),
        ("category", "character varying(100)", False, None),
        ("definition", "jsonb", True, None),
        ("config", "jsonb", False, "'{}'::jsonb"),
        ("is_active", "boolean", False, "true"),
        ("is_favorite", "boolean", False, "false"),
        ("last_used", "timestamp with time zone", False, None),
        ("execution_count", "integer", False, "0"),
        ("created_at", "timestamp with time zone", False, "CURRENT_TIMESTAMP"),
        ("updated_at", "timestamp with time zone", False, "CURRENT_TIMESTAMP"),
    ],
    "workflow_executions": [
        ("user_workflow_id", "uuid", False, None),
        ("template_id", "character varying(255)", False, None),  # made nullable by the seed
    ],
}

SEED_INDEXES = {
    "idx_workflow_templates_category": ("workflow_templates", "(category)"),
    "idx_workflow_templates_is_active": ("workflow_templates", "(is_active)"),
    "idx_user_workflows_user_id": ("user_workflows", "(user_id)"),
    "idx_user_workflows_template_id": ("user_workflows", "(template_id)"),
    "idx_user_workflows_category": ("user_workflows", "(category)"),
    "idx_user_workflows_is_active": ("user_workflows", "(is_active)"),
    "idx_workflow_executions_user_workflow_id": ("workflow_executions", "(user_workflow_id)"),
}

SEED_FOREIGN_KEYS = {
    # (table, column) -> (referenced table, ON DELETE rule)
    ("user_workflows", "user_id"): ("users", "CASCADE"),
    ("user_workflows", "template_id"): ("workflow_templates", "SET NULL"),
    ("workflow_executions", "user_workflow_id"): ("user_workflows", "CASCADE"),
}

COLUMN_QUERY = """
SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = %s::regclass AND a.attname = %s AND NOT a.attisdropped
"""


@pytest.mark.parametrize(
    ("table", "column", "type_", "not_null", "default"),
    [(table, *column) for table, columns in SEED_COLUMNS.items() for column in columns],
)
def test_seed_column_exists_as_written(
    db_url: str, table: str, column: str, type_: str, not_null: bool, default: str | None
) -> None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(COLUMN_QUERY, (table, column)).fetchone()
    assert row == (type_, not_null, default)


def test_seed_tables_have_exactly_the_seed_columns(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        for table in ("workflow_templates", "user_workflows"):
            rows = conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                (table,),
            ).fetchall()
            # The seed's columns come first and in its order; later issues may append ours.
            seed = [column[0] for column in SEED_COLUMNS[table]]
            assert [name for (name,) in rows][: len(seed)] == seed


@pytest.mark.parametrize(("index", "where"), SEED_INDEXES.items())
def test_seed_index_exists(db_url: str, index: str, where: tuple[str, str]) -> None:
    table, columns = where
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT pg_get_indexdef(%s::regclass)", (index,)).fetchone()
    assert row is not None
    assert row[0] == f"CREATE INDEX {index} ON public.{table} USING btree {columns}"


@pytest.mark.parametrize(("source", "target"), SEED_FOREIGN_KEYS.items())
def test_seed_foreign_keys_and_their_delete_rules(
    db_url: str, source: tuple[str, str], target: tuple[str, str]
) -> None:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            """
            SELECT ccu.table_name, rc.delete_rule
            FROM information_schema.key_column_usage kcu
            JOIN information_schema.referential_constraints rc
              ON rc.constraint_name = kcu.constraint_name
            JOIN information_schema.constraint_column_usage ccu
              ON ccu.constraint_name = kcu.constraint_name
            WHERE kcu.table_name = %s AND kcu.column_name = %s
            """,
            source,
        ).fetchone()
    assert row == target


def test_primary_keys_and_the_source_check(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        keys: dict[str, str] = dict(
            conn.execute(
                "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE contype = 'p' AND conrelid::regclass::text IN "
                "('workflow_templates', 'user_workflows')"
            ).fetchall()
        )
        check = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conname = 'workflow_executions_source_check'"
        ).fetchone()
    assert keys == {"workflow_templates": "PRIMARY KEY (id)", "user_workflows": "PRIMARY KEY (id)"}
    assert check == (
        "CHECK ((((template_id IS NOT NULL) AND (user_workflow_id IS NULL)) OR "
        "((template_id IS NULL) AND (user_workflow_id IS NOT NULL))))",
    )


def test_updated_at_triggers_exist_on_both_seed_tables(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal "
            "AND tgfoid = 'update_updated_at_column'::regproc ORDER BY 1"
        ).fetchall()
    assert ("user_workflows", "update_user_workflows_updated_at") in rows
    assert ("workflow_templates", "update_workflow_templates_updated_at") in rows

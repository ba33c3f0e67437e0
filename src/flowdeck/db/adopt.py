"""Adoption: a legacy database's `users` and `workflow_executions`, as found, brought to the
shape the migrations were written against, before those migrations run.

The seed fixes an application that already had these two tables; 001 and 002 create them
only when they are missing, so a legacy table keeps the types and names it had. The
migrations after them read those columns (004 relaxes `template_id`, 008 writes `error`
with `jsonb_build_object` and maps `status`, 013's function returns `error` as JSONB), so
a column of another type stops them half way. Adoption compares each column with the one
001 and 002 declare (`COLUMNS`) and:

- converts what it can without losing a value: string types and enums to the declared
  string type (when every value fits), timestamps without time zone (read as UTC), `json`,
  and text holding errors or documents to JSONB; renames a few known old names; adds the
  nullable columns the table lacks; sets NOT NULL where no row is NULL;
- refuses what it cannot (ids of another type, a required column missing, NULLs where NOT
  NULL is declared, values too long), every problem at once, naming the table, the column,
  the type found and the one expected, before anything is changed.

It runs in one transaction under the migration lock and returns what it changed; a database
in the declared shape gives an empty list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, auto

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from flowdeck.db.queries import query
from flowdeck.errors import FlowdeckError

Q = "adopt"

# Set apart in messages, so that a person sees where the legacy shape is described.
GUIDE = 'docs/operations.md, "Adopting an existing database"'


class AdoptionError(FlowdeckError):
    """The legacy tables have a column Flowdeck cannot convert; nothing was changed."""


class Kind(Enum):
    """How a column of another type may be converted to the declared one."""

    ID = auto()  # uuid; other tables refer to it, never converted
    FLAG = auto()  # boolean; never converted
    STRING = auto()  # from any string type or enum, when every value fits
    TIMESTAMP = auto()  # from timestamp without time zone, read as UTC
    ERROR = auto()  # from json or text: a JSON object kept, anything else {"message": text}
    DOCUMENT = auto()  # from json or text: JSON text parsed, other text a JSON string


@dataclass(frozen=True)
class Declared:
    """A column as 001_users.sql or 002_workflow_executions.sql declares it."""

    name: str
    type: str  # as format_type() spells it, like `db verify`
    kind: Kind
    not_null: bool | None = False  # None: either (004 makes template_id nullable)
    default: str | None = None  # the query that sets the declared default after a conversion
    aliases: tuple[str, ...] = ()  # older names of the column, renamed when it is missing
    add: str | None = None  # the query that adds it when missing
    added_by_migration: bool = False  # when missing, 001 adds it

    @property
    def spelled(self) -> str:
        return f"{self.type}{' NOT NULL' if self.not_null is not False else ''}"


TIMESTAMPTZ = "timestamp with time zone"

COLUMNS: dict[str, tuple[Declared, ...]] = {
    "users": (
        Declared("id", "uuid", Kind.ID, not_null=True),
        Declared("email", "character varying(255)", Kind.STRING, not_null=True),
        Declared("display_name", "character varying(255)", Kind.STRING, added_by_migration=True),
        Declared("password_hash", "text", Kind.STRING, added_by_migration=True),
        Declared("is_admin", "boolean", Kind.FLAG, not_null=True, added_by_migration=True),
        *(
            Declared(
                name,
                TIMESTAMPTZ,
                Kind.TIMESTAMP,
                not_null=True,
                default="default_current_timestamp",
                added_by_migration=True,
            )
            for name in ("created_at", "updated_at")
        ),
    ),
    "workflow_executions": (
        Declared("id", "uuid", Kind.ID, not_null=True),
        Declared("template_id", "character varying(255)", Kind.STRING, not_null=None),
        Declared("user_id", "uuid", Kind.ID, not_null=True),
        Declared(
            "status", "character varying(50)", Kind.STRING, not_null=True, default="default_pending"
        ),
        Declared("input", "jsonb", Kind.DOCUMENT, aliases=("inputs",), add="add_jsonb"),
        Declared("output", "jsonb", Kind.DOCUMENT, aliases=("outputs", "result"), add="add_jsonb"),
        Declared("error", "jsonb", Kind.ERROR, aliases=("error_message",), add="add_jsonb"),
        Declared(
            "created_at",
            TIMESTAMPTZ,
            Kind.TIMESTAMP,
            not_null=True,
            default="default_current_timestamp",
            add="add_created_at",
        ),
        Declared("started_at", TIMESTAMPTZ, Kind.TIMESTAMP, add="add_timestamptz"),
        Declared(
            "finished_at",
            TIMESTAMPTZ,
            Kind.TIMESTAMP,
            aliases=("completed_at", "ended_at"),
            add="add_timestamptz",
        ),
    ),
}


@dataclass(frozen=True)
class Found:
    """A column of a legacy table as the catalogs describe it."""

    name: str
    type: str
    category: str  # pg_type.typcategory: 'S' string, 'E' enum, ...
    is_enum: bool
    not_null: bool


@dataclass(frozen=True)
class Adoption:
    """One change adoption made, in words."""

    table: str
    column: str
    change: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column}: {self.change}"


@dataclass
class _Plan:
    steps: list[tuple[Adoption, list[sql.Composed]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    json_reader: bool = False  # pg_temp.flowdeck_adopt_json was created


def _json_reader(conn: psycopg.Connection[TupleRow], plan: _Plan) -> None:
    """Create the temporary JSON reader once, only for text that must be read as JSON
    (creating it needs the TEMP privilege, which a database in the declared shape does not)."""
    if not plan.json_reader:
        conn.execute(query(Q, "create_json_reader"))
        plan.json_reader = True


def adopt(conn: psycopg.Connection[TupleRow]) -> list[Adoption]:
    """Bring the legacy tables to the declared shape; return what changed (empty: nothing).

    `conn` is in autocommit mode and holds the migration lock. Raises AdoptionError, with
    every problem found and nothing changed, when a column cannot be converted.
    """
    with conn.transaction():
        tables: dict[str, dict[str, Found]] = {}
        for table, *row in conn.execute(query(Q, "columns")):
            tables.setdefault(str(table), {})[str(row[0])] = Found(
                str(row[0]), str(row[1]), str(row[2]), bool(row[3]), bool(row[4])
            )
        if not tables:
            return []
        plan = _Plan()
        for table, found in tables.items():
            for declared in COLUMNS[table]:
                _plan_column(conn, plan, table, declared, found)
        if plan.problems:
            raise AdoptionError(
                "Cannot adopt the existing database: Flowdeck cannot convert these columns.\n"
                + "\n".join(f"- {problem}" for problem in plan.problems)
                + f"\nNothing was changed. Fix them by hand (see {GUIDE}), then migrate again."
            )
        for adoption, statements in plan.steps:
            for statement in statements:
                try:
                    conn.execute(statement)
                except psycopg.Error as exc:
                    message = exc.diag.message_primary or str(exc).strip()
                    detail = (
                        f"\nDetail: {exc.diag.message_detail}" if exc.diag.message_detail else ""
                    )
                    raise AdoptionError(
                        f"Adopting {adoption.table}.{adoption.column} ({adoption.change}) "
                        f"failed: {message}{detail}\nNothing was changed."
                    ) from exc
        if plan.json_reader:
            conn.execute(query(Q, "drop_json_reader"))
    return [adoption for adoption, _ in plan.steps]


def _statement(name: str, table: str, column: str, **extra: sql.Composable) -> sql.Composed:
    return query(Q, name).format(
        table=sql.Identifier(table), column=sql.Identifier(column), **extra
    )


def _fetch(conn: psycopg.Connection[TupleRow], name: str, table: str, column: str) -> list[int]:
    row = conn.execute(_statement(name, table, column)).fetchone()
    if row is None:  # an aggregate without GROUP BY always returns one row
        raise RuntimeError(f"{name} returned no row")
    return [int(value) for value in row]


def _plan_column(
    conn: psycopg.Connection[TupleRow],
    plan: _Plan,
    table: str,
    declared: Declared,
    columns: dict[str, Found],
) -> None:
    name = declared.name
    found = columns.get(name)
    if found is None:
        old = next((alias for alias in declared.aliases if alias in columns), None)
        if old is not None:
            found = columns[old]
            rename = _statement("rename", table, name, old=sql.Identifier(old))
            plan.steps.append((Adoption(table, name, f"renamed from {old}"), [rename]))
    if found is None:
        if declared.add is not None:
            how = "the time of this upgrade" if declared.not_null is True else "NULL"
            change = f"added ({declared.spelled}; {how} in every row)"
            plan.steps.append(
                (Adoption(table, name, change), [_statement(declared.add, table, name)])
            )
        elif not declared.added_by_migration:
            plan.problems.append(f"{table}.{name} is missing; expected {declared.spelled}.")
        return
    if found.not_null and declared.not_null is False:
        change = "NOT NULL dropped (the migrations declare it nullable)"
        plan.steps.append(
            (Adoption(table, name, change), [_statement("drop_not_null", table, name)])
        )
    if found.type != declared.type:
        _plan_conversion(conn, plan, table, declared, found)
    if declared.not_null is True and not found.not_null:
        nulls = _fetch(conn, "profile_strings", table, found.name)[1]
        if nulls:
            plan.problems.append(
                f"{table}.{name} is NULL in {nulls} row(s); expected {declared.spelled}. "
                "Give those rows a value."
            )
        else:
            change = "set NOT NULL (no row is NULL)"
            plan.steps.append(
                (Adoption(table, name, change), [_statement("set_not_null", table, name)])
            )


def _plan_conversion(
    conn: psycopg.Connection[TupleRow],
    plan: _Plan,
    table: str,
    declared: Declared,
    found: Found,
) -> None:
    name = declared.name
    current = found.name  # before a rename planned above
    shown = f"{found.type} (an enum)" if found.is_enum else found.type
    unsupported = f"{table}.{name} is {shown}, expected {declared.type}"
    string = found.category in ("S", "E")
    convert: sql.Composed
    if declared.kind is Kind.STRING and string:
        rows, _, longest = _fetch(conn, "profile_strings", table, current)
        length = _varchar_length(declared.type)
        if length is not None and longest > length:
            plan.problems.append(
                f"{unsupported}: a value has {longest} characters, more than {length}. "
                "Shorten the longer values."
            )
            return
        if length is None:
            convert = _statement("to_text", table, name)
        else:
            convert = _statement("to_varchar", table, name, length=sql.Literal(length))
        change = f"{shown} → {declared.type} ({_count(rows, 'row')})"
    elif declared.kind is Kind.TIMESTAMP and found.type == "timestamp without time zone":
        rows, nulls, _ = _fetch(conn, "profile_strings", table, current)
        convert = _statement("to_timestamptz", table, name)
        change = f"{shown} → {declared.type} ({_count(rows - nulls, 'value')} read as UTC)"
    elif declared.kind is Kind.ERROR and (string or found.type == "json"):
        _json_reader(conn, plan)
        rows, nulls, empty, objects = _fetch(conn, "profile_error", table, current)
        wrapped = rows - nulls - empty - objects
        convert = _statement("error_to_jsonb", table, name)
        change = f"{shown} → jsonb " + _tally(
            rows,
            (objects, "JSON object kept", "JSON objects kept"),
            (wrapped, 'wrapped as {"message": ...}', 'wrapped as {"message": ...}'),
            (empty, "empty → NULL", "empty → NULL"),
            (nulls, "NULL", "NULL"),
        )
    elif declared.kind is Kind.DOCUMENT and found.type == "json":
        rows, nulls, _ = _fetch(conn, "profile_strings", table, current)
        convert = _statement("json_to_jsonb", table, name)
        change = f"{shown} → jsonb ({_count(rows - nulls, 'value')} kept as they were)"
    elif declared.kind is Kind.DOCUMENT and string:
        _json_reader(conn, plan)
        rows, nulls, empty, parsed = _fetch(conn, "profile_document", table, current)
        strings = rows - nulls - empty - parsed
        convert = _statement("document_to_jsonb", table, name)
        change = f"{shown} → jsonb " + _tally(
            rows,
            (parsed, "parsed as JSON", "parsed as JSON"),
            (strings, "kept as a JSON string", "kept as JSON strings"),
            (empty, "empty → NULL", "empty → NULL"),
            (nulls, "NULL", "NULL"),
        )
    else:
        why = {
            Kind.ID: "Flowdeck does not convert ids: other tables refer to them",
            Kind.FLAG: "Flowdeck converts only booleans here",
        }.get(declared.kind, "Flowdeck has no conversion from that type")
        plan.problems.append(f"{unsupported} ({why}).")
        return
    statements = [_statement("drop_default", table, name), convert]
    if declared.default is not None:
        statements.append(_statement(declared.default, table, name))
    plan.steps.append((Adoption(table, name, change), statements))


def _varchar_length(type_name: str) -> int | None:
    """255 for 'character varying(255)'; None for 'text'."""
    if not type_name.startswith("character varying("):
        return None
    return int(type_name.removeprefix("character varying(").removesuffix(")"))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _tally(rows: int, *parts: tuple[int, str, str]) -> str:
    """'(5 rows: 2 parsed as JSON, 1 NULL)': the parts that are not zero."""
    said = [f"{n} {one if n == 1 else many}" for n, one, many in parts if n]
    return f"({_count(rows, 'row')}{': ' if said else ''}{', '.join(said)})"

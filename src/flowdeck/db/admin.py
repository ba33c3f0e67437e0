"""Server-level helpers: URLs per database, creating and dropping databases."""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import TupleRow

from flowdeck.errors import DatabaseUnavailableError


def with_database(url: str, dbname: str) -> str:
    """The same server and credentials as `url`, another database."""
    return make_conninfo(url, dbname=dbname)


def describe(url: str) -> str:
    """A URL's server and database for messages, without its password."""
    params = conninfo_to_dict(url)
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    return f"database {params.get('dbname', '?')!s} on {host!s}:{port!s}"


def connect(url: str, *, autocommit: bool = True) -> psycopg.Connection[TupleRow]:
    """Open a connection, turning a failure into an error that names the server."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise DatabaseUnavailableError(f"Cannot connect to {describe(url)}: {message}") from exc


def database_exists(url: str, dbname: str) -> bool:
    with connect(url) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
    return row is not None


def create_database(url: str, dbname: str, *, template: str | None = None) -> str:
    """Create `dbname` on the server of `url` (optionally as a copy of `template`)."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname))
    if template is not None:
        statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
    with connect(url) as conn:
        conn.execute(statement)
    return with_database(url, dbname)


def drop_database(url: str, dbname: str) -> None:
    """Drop `dbname` if it exists, disconnecting its sessions."""
    with connect(url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )

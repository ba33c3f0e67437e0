"""Named SQL queries, kept in `queries/*.sql` and loaded once.

A file holds blocks that start with `-- name: <query_name>`; the lines up to the
next such header are the query. Written by hand (about 30 lines) rather than with
aiosql, whose generated methods the type checker cannot see.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from psycopg import AsyncCursor, sql
from psycopg.rows import Row

_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse_queries(text: str, source: str) -> dict[str, str]:
    """Split one file's text into {name: query}; a duplicate name is an error."""
    queries: dict[str, str] = {}
    headers = list(_HEADER.finditer(text))
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(text)
        name = header.group(1)
        if name in queries:
            raise ValueError(f"{source}: query {name!r} is defined twice")
        queries[name] = text[header.end() : end].strip()
    return queries


@cache
def _load(group: str) -> dict[str, str]:
    path = resources.files("flowdeck.db").joinpath("queries", f"{group}.sql")
    return parse_queries(path.read_text(encoding="utf-8"), f"queries/{group}.sql")


def query(group: str, name: str) -> sql.SQL:
    """The query `name` from `queries/<group>.sql`, ready for `cursor.execute`."""
    try:
        text = _load(group)[name]
    except KeyError:
        raise KeyError(f"no query {name!r} in queries/{group}.sql") from None
    # The text comes from our own package files, never from input.
    return sql.SQL(text)


async def fetch_row(cursor: AsyncCursor[Row]) -> Row:
    """The one row a statement must return (INSERT ... RETURNING and the like)."""
    row = await cursor.fetchone()
    if row is None:
        raise RuntimeError("the statement returned no row")
    return row

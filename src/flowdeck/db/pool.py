"""The connection pool every request and worker borrows from."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool


async def _configure(conn: AsyncConnection[DictRow]) -> None:
    # Never prepare statements server-side: list queries take optional filters
    # ("%(x)s IS NULL OR ..."), and only a plan made for the actual values uses the
    # indexes well; a generic prepared plan would scan.
    conn.prepare_threshold = None


def open_pool(url: str, max_size: int = 20) -> AsyncConnectionPool[AsyncConnection[DictRow]]:
    """The pool every request borrows from: autocommit, rows as dicts."""
    return AsyncConnectionPool(
        url,
        min_size=2,
        max_size=max_size,
        kwargs={"autocommit": True, "row_factory": dict_row},
        configure=_configure,
        # A connection the server dropped (a restart, a failover, an idle timeout) is
        # found and replaced when it is taken, not reported to a user as a 500.
        check=AsyncConnectionPool.check_connection,
        open=False,
    )

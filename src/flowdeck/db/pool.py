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


def open_pool(
    url: str, max_size: int = 20, *, check: bool = True
) -> AsyncConnectionPool[AsyncConnection[DictRow]]:
    """A pool of autocommit connections with rows as dicts.

    `check` tests each connection as it is taken (a round trip): right for requests,
    which would otherwise answer 500 on a connection the server dropped. Workers pass
    False: their writes retry on a fresh connection anyway (db/retry.py), and a round
    trip per step would cost them a good share of their throughput.
    """
    return AsyncConnectionPool(
        url,
        min_size=2,
        max_size=max_size,
        # UTC as the session's time zone: the seed's TIMESTAMP columns (templates) then
        # hold UTC whatever the server's own zone, and the API says so (api/timestamps).
        kwargs={"autocommit": True, "row_factory": dict_row, "options": "-c TimeZone=UTC"},
        configure=_configure,
        # A connection the server dropped (a restart, a failover, an idle timeout) is
        # found and replaced when it is taken, not reported to a user as a 500.
        check=AsyncConnectionPool.check_connection if check else None,
        open=False,
    )

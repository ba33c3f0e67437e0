"""For the commands that work on the database directly (not over the API): a
connection, and running async work on the configured database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row

from flowdeck.config import load_settings
from flowdeck.db.connect import open_database

T = TypeVar("T")


async def connect(url: str) -> AsyncConnection[DictRow]:
    return await AsyncConnection.connect(url, autocommit=True, row_factory=dict_row)


def run(work: Callable[[AsyncConnection[DictRow]], Awaitable[T]]) -> T:
    """Run async database work from a command, on the configured database."""

    async def main(url: str) -> T:
        async with await connect(url) as conn:
            return await work(conn)

    with open_database(load_settings()) as url:
        return asyncio.run(main(url))

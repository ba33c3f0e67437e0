"""The database types every layer uses: a connection (autocommit, rows as dicts) and a
pool of them. Here, at the bottom, so that nothing imports a service for a type."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

Conn = AsyncConnection[DictRow]
Pool = AsyncConnectionPool[Conn]

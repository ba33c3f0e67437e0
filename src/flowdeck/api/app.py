"""The app factory: `create_app()` builds settings, and the lifespan owns the database.

At start-up the lifespan opens the database (starting the embedded server when no
URL is given), applies pending migrations and opens a connection pool; at shutdown
it closes the pool and releases the embedded server. uvicorn runs the shutdown on
Ctrl-C and SIGTERM, so both stop everything cleanly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from flowdeck import __version__
from flowdeck.api import errors
from flowdeck.api.limits import BodyLimitMiddleware
from flowdeck.api.routes import auth, health, templates, tokens, workflows
from flowdeck.config import Settings
from flowdeck.db.connect import open_database
from flowdeck.db.migrate import load_migrations, migrate
from flowdeck.users import service

log = logging.getLogger(__name__)


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
        open=False,
    )


def create_app(settings: Settings | None = None, database_url: str | None = None) -> FastAPI:
    """Build the ASGI app; settings are read from the environment when not given.

    With `database_url` the caller owns the database (started and migrated it, as
    `flowdeck serve` does); without it the app's lifespan opens the database from
    the settings and applies pending migrations itself.
    """
    settings = settings if settings is not None else Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            url = database_url
            if url is None:
                database = open_database(settings)
                url = await asyncio.to_thread(database.__enter__)
                stack.push_async_callback(asyncio.to_thread, database.__exit__, None, None, None)
                applied = await asyncio.to_thread(migrate, url)
                if applied:
                    log.info("applied migrations: %s", ", ".join(applied))
            pool = open_pool(url)
            await pool.open(wait=True, timeout=30)
            stack.push_async_callback(pool.close)
            async with pool.connection() as conn:
                app.state.signing_key = await service.signing_key(conn, settings.secret_key)
            app.state.pool = pool
            app.state.database_url = url
            app.state.migrations = load_migrations()
            yield

    app = FastAPI(
        title="Flowdeck",
        version=__version__,
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    for module in (health, auth, tokens, templates, workflows):
        app.include_router(module.router)
    return app

"""The app factory: `create_app()` builds settings, and the lifespan owns the database.

At start-up the lifespan opens the database (starting the embedded server when no
URL is set), applies pending migrations and opens a connection pool; at shutdown
it closes the pool and releases the embedded server. uvicorn runs the shutdown on
Ctrl-C and SIGTERM, so both stop everything cleanly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from flowdeck import __version__
from flowdeck.api.routes import health
from flowdeck.config import Settings
from flowdeck.db.connect import open_database
from flowdeck.db.migrate import load_migrations, migrate

log = logging.getLogger(__name__)


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
            pool = AsyncConnectionPool(url, min_size=1, max_size=10, open=False)
            await pool.open(wait=True, timeout=30)
            stack.push_async_callback(pool.close)
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
    app.include_router(health.router)
    return app

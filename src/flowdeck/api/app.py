"""The app factory: `create_app()` builds settings, and the lifespan owns the database.

At start-up the lifespan opens the database (starting the embedded server when no
URL is given), applies pending migrations and opens a connection pool; at shutdown
it closes the pool and releases the embedded server. uvicorn runs the shutdown on
Ctrl-C and SIGTERM, so both stop everything cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from flowdeck import __version__
from flowdeck.api import errors
from flowdeck.api.limits import BodyLimitMiddleware
from flowdeck.api.openapi import declare_errors
from flowdeck.api.routes import (
    auth,
    executions,
    health,
    hooks,
    secrets,
    signals,
    templates,
    tokens,
    triggers,
    workflows,
)
from flowdeck.config import Settings
from flowdeck.db.connect import open_database
from flowdeck.db.migrate import load_migrations, migrate
from flowdeck.db.pool import open_pool
from flowdeck.engine.events import FinishedListener
from flowdeck.engine.maintenance import Maintenance
from flowdeck.engine.worker import Worker, WorkerSettings
from flowdeck.users import service
from flowdeck.vault.box import SecretBox, load_key_material
from flowdeck.web import STATIC_DIR
from flowdeck.web.headers import SecurityHeadersMiddleware
from flowdeck.web.pages import auth as auth_pages
from flowdeck.web.pages import executions as execution_pages
from flowdeck.web.pages import templates as template_pages
from flowdeck.web.pages import workflows as workflow_pages
from flowdeck.web.routing import not_found_page, wants_page

log = logging.getLogger(__name__)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """An address nobody serves: a page for a browser, the API's JSON for everyone else."""
    if wants_page(request, exc):
        return not_found_page(request)
    return await errors.http_error(request, exc)


async def _stop_worker(worker: Worker, task: asyncio.Task[None]) -> None:
    worker.stop()
    await task


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(
    settings: Settings | None = None,
    database_url: str | None = None,
    *,
    worker: WorkerSettings | None = None,
) -> FastAPI:
    """Build the ASGI app; settings are read from the environment when not given.

    With `database_url` the caller owns the database (started and migrated it, as
    `flowdeck serve` does); without it the app's lifespan opens the database from
    the settings and applies pending migrations itself. With `worker` settings, the
    process also runs a worker (what `flowdeck serve` does unless --no-worker).
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
            app.state.box = SecretBox(load_key_material(settings.secret_key, settings.data_dir))
            app.state.finished = FinishedListener(url)
            background = [asyncio.create_task(app.state.finished.run(), name="finished")]
            if worker is not None:
                worker_pool = open_pool(url, max_size=worker.concurrency + 2, check=False)
                await worker_pool.open(wait=True, timeout=30)
                stack.push_async_callback(worker_pool.close)
                in_process = Worker(
                    worker_pool,
                    url,
                    worker,
                    box=app.state.box,
                    maintenance=Maintenance.beside(worker_pool, worker),
                )
                background.append(asyncio.create_task(in_process.run(), name="worker"))
                stack.push_async_callback(_stop_worker, in_process, background[-1])
            stack.push_async_callback(_cancel, background[0])
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
    # Outermost: also on the 413 that the body limit answers itself.
    app.add_middleware(SecurityHeadersMiddleware)
    modules = (
        health,
        auth,
        tokens,
        secrets,
        templates,
        workflows,
        executions,
        signals,
        hooks,
        triggers,
        auth_pages,
        workflow_pages,
        template_pages,
        execution_pages,
    )
    for module in modules:
        app.include_router(module.router)
    declare_errors(app, [r for m in modules for r in m.router.routes if isinstance(r, APIRoute)])
    # A browser that follows a wrong link gets a page, not JSON.
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]  # Starlette types handlers loosely
    # Every asset the pages use is served from the package: no CDN, no build step.
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app

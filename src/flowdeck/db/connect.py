"""Which database Flowdeck uses: FLOWDECK_DATABASE_URL, or the embedded server."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import psycopg

from flowdeck.db import admin
from flowdeck.db.embedded import EmbeddedPostgres

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "flowdeck"


class DatabaseSettings(Protocol):
    """What is read here: flowdeck.config.Settings (not imported: config is above db)."""

    @property
    def database_url(self) -> str | None: ...

    @property
    def data_dir(self) -> Path: ...


@contextmanager
def open_database(settings: DatabaseSettings) -> Iterator[str]:
    """Yield the URL of Flowdeck's database for as long as the block runs.

    With a database URL (FLOWDECK_DATABASE_URL), that URL is checked and yielded.
    Otherwise the embedded server (its data in the data dir) is started (or joined),
    its `flowdeck` database created if missing, and this process's handle released
    when the block ends.
    """
    if settings.database_url:
        admin.connect(settings.database_url).close()
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    server_url = embedded.start()
    try:
        if not admin.database_exists(server_url, EMBEDDED_DATABASE):
            _create_ignoring_race(server_url)
        log.info("using the embedded PostgreSQL server in %s", embedded.pgdata)
        yield admin.with_database(server_url, EMBEDDED_DATABASE)
    finally:
        embedded.stop()


def _create_ignoring_race(server_url: str) -> None:
    """Create the embedded database; another process starting at the same time may win."""
    try:
        admin.create_database(server_url, EMBEDDED_DATABASE)
    except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
        pass

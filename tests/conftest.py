"""Shared fixtures: a real PostgreSQL server, one migrated template database per session,
and a fresh `CREATE DATABASE ... TEMPLATE` copy for each test that needs one.

With FLOWDECK_DATABASE_URL set (a maintenance database such as
postgresql://postgres@127.0.0.1:5432/postgres) the databases are created on that
server; otherwise an embedded server is started in a temporary directory.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from flowdeck.catalog.sync import sync_builtin_templates
from flowdeck.db import admin
from flowdeck.db.embedded import EmbeddedPostgres
from flowdeck.db.migrate import migrate
from tests.helpers import run_async

FIXTURES = Path(__file__).parent / "fixtures"

# A database name for this test session; pids keep parallel sessions apart.
SESSION_PREFIX = f"flowdeck_test_{os.getpid()}"


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL to a maintenance database on the server the tests use."""
    url = os.environ.get("FLOWDECK_DATABASE_URL")
    if url:
        yield url
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("embedded-server"))
    try:
        yield embedded.start()
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def template_database(server_url: str) -> Iterator[str]:
    """The name of a database migrated (and given the built-in catalog) once per session,
    to be copied per test."""
    name = f"{SESSION_PREFIX}_template"
    admin.drop_database(server_url, name)
    url = admin.create_database(server_url, name)
    migrate(url)
    run_async(_sync_catalog(url))
    yield name
    admin.drop_database(server_url, name)


async def _sync_catalog(url: str) -> None:
    async with await AsyncConnection.connect(url, autocommit=True, row_factory=dict_row) as conn:
        await sync_builtin_templates(conn)


DatabaseFactory = Callable[[str], str]


@pytest.fixture
def database_factory(server_url: str) -> Iterator[DatabaseFactory]:
    """Make databases (copies of a template) that are dropped after the test."""
    created: list[str] = []

    def make(template: str) -> str:
        name = f"{SESSION_PREFIX}_{secrets.token_hex(4)}"
        created.append(name)
        return admin.create_database(server_url, name, template=template)

    yield make
    for name in created:
        admin.drop_database(server_url, name)


@pytest.fixture
def db_url(database_factory: DatabaseFactory, template_database: str) -> str:
    """A fresh, fully migrated database of this test's own."""
    return database_factory(template_database)


@pytest.fixture
def empty_db_url(database_factory: DatabaseFactory) -> str:
    """A fresh database with nothing in it."""
    return database_factory("template0")

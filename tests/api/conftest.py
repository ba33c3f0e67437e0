"""The HTTP API served by a real uvicorn server in a thread of the test process, on a
fresh migrated database with the built-in catalog, and people to call it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import uvicorn
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from flowdeck.api.app import create_app
from flowdeck.config import Settings
from flowdeck.users import service
from tests.helpers import run_async

BODY_LIMIT = 64 * 1024


@dataclass
class Person:
    id: UUID
    email: str
    token: str
    password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Api:
    client: httpx.Client
    db_url: str
    people: dict[str, Person] = field(default_factory=dict)

    def person(self, name: str, *, admin: bool = False) -> Person:
        """A user named `name` (created on first use) with an API token."""
        if name not in self.people:
            self.people[name] = run_async(self._create(name, admin))
        return self.people[name]

    async def _create(self, name: str, admin: bool) -> Person:
        password = f"{name}-password-123"
        async with await AsyncConnection.connect(
            self.db_url, autocommit=True, row_factory=dict_row
        ) as conn:
            user = await service.create_user(
                conn,
                f"{name}@example.com",
                display_name=name.title(),
                password=password,
                is_admin=admin,
            )
            issued = await service.create_token(conn, user, "tests")
        return Person(user.id, user.email, issued.token, password)

    def sql(self, statement: str, *params: Any) -> list[dict[str, Any]]:
        """Run SQL on the test database directly (to arrange or inspect state)."""

        async def run() -> list[dict[str, Any]]:
            async with await AsyncConnection.connect(
                self.db_url, autocommit=True, row_factory=dict_row
            ) as conn:
                cur = await conn.execute(statement.encode(), params or None)
                return await cur.fetchall() if cur.description else []

        return run_async(run())

    def get(self, path: str, who: Person | None = None, **kwargs: Any) -> Any:
        return self.client.get(path, headers=who.headers if who else {}, **kwargs)

    def post(self, path: str, who: Person | None = None, **kwargs: Any) -> Any:
        return self.client.post(
            path, headers={**(who.headers if who else {}), **kwargs.pop("headers", {})}, **kwargs
        )

    def patch(self, path: str, who: Person | None = None, **kwargs: Any) -> Any:
        return self.client.patch(path, headers=who.headers if who else {}, **kwargs)

    def delete(self, path: str, who: Person | None = None, **kwargs: Any) -> Any:
        return self.client.delete(path, headers=who.headers if who else {}, **kwargs)


@contextmanager
def running_server(app: Any) -> Iterator[str]:
    """Serve `app` on a free loopback port in a thread; yield its base URL."""
    # As `flowdeck serve`: no proxy headers believed by uvicorn (FLOWDECK_TRUSTED_PROXIES).
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, lifespan="on", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    # uvicorn offers a flag, not an event: check it until the server has started.
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = Settings(database_url=db_url, data_dir=tmp_path, max_body_bytes=BODY_LIMIT)
    with (
        running_server(create_app(settings, database_url=db_url)) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        yield Api(client, db_url)


def error_of(response: Any) -> dict[str, Any]:
    """The error object of a 4xx/5xx response, checked to have the one shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["message"], str) and error["message"]
    return error

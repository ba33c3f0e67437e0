"""Engine tests: the API with an in-process worker, and a local HTTP server to call."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from uuid import UUID

import httpx
import psycopg
import pytest

from flowdeck.api.app import create_app
from flowdeck.config import Settings
from flowdeck.engine.worker import WorkerSettings
from tests.api.conftest import Api, Person, running_server
from tests.api.conftest import api as api


class Target:
    """A local HTTP server that steps call. It counts every hit by path.

    /ok → 200 {"ok": true, "path": ...}; /status/<code>; /flaky/<key>?fail=N → 503 for
    the first N hits of <key>, then 200; /slow?ms=N; /echo → the request as JSON;
    /block/<key> → waits until release(key) is called; /redirect?to=<url> → 302 to <url>.
    """

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self.gates: dict[str, threading.Event] = {}
        self.entered: dict[str, threading.Event] = {}
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                target.hits[url.path] += 1
                target.requests.append(
                    {
                        "method": self.command,
                        "path": url.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                parts = url.path.strip("/").split("/")
                if parts[0] == "status":
                    self._reply(int(parts[1]), {"status": int(parts[1])})
                elif parts[0] == "flaky":
                    fail = int(query.get("fail", ["1"])[0])
                    ok = target.hits[url.path] > fail
                    self._reply(200 if ok else 503, {"attempt": target.hits[url.path]})
                elif parts[0] == "slow":
                    time.sleep(int(query.get("ms", ["100"])[0]) / 1000)
                    self._reply(200, {"slow": True})
                elif parts[0] == "block":
                    target.entered.setdefault(parts[1], threading.Event()).set()
                    target.gates.setdefault(parts[1], threading.Event()).wait(60)
                    self._reply(200, {"released": parts[1]})
                elif parts[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", query["to"][0])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif parts[0] == "echo":
                    self._reply(
                        200,
                        {
                            "method": self.command,
                            "body": body,
                            "query": query,
                            "headers": dict(self.headers),
                        },
                    )
                else:
                    self._reply(200, {"ok": True, "path": url.path})

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def release(self, key: str) -> None:
        self.gates.setdefault(key, threading.Event()).set()

    def wait_entered(self, key: str, timeout: float = 30) -> bool:
        """Block until a request to /block/<key> has arrived."""
        return self.entered.setdefault(key, threading.Event()).wait(timeout)


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    for gate in server.gates.values():
        gate.set()
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def engine(db_url: str, tmp_path: Path) -> Iterator[Api]:
    """The API with an in-process worker (short lease and poll, for quick tests)."""
    settings = Settings(database_url=db_url, data_dir=tmp_path)
    worker = WorkerSettings(concurrency=8, poll_interval=0.5, rescue_interval=0.5)
    with (
        running_server(create_app(settings, database_url=db_url, worker=worker)) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        yield Api(client, db_url)


def run(
    api: Api,
    who: Person,
    definition: dict[str, Any],
    inputs: dict[str, Any] | None = None,
    wait: float = 30,
) -> dict[str, Any]:
    """Save `definition` as a workflow, run it, and wait for the end."""
    workflow = api.post("/api/workflows", who, json={"name": "test", "definition": definition})
    assert workflow.status_code == 201, workflow.json()
    started = api.post(
        f"/api/workflows/{workflow.json()['id']}/executions",
        who,
        params={"wait": wait},
        json={"inputs": inputs or {}},
    )
    assert started.status_code == 201, started.json()
    body: dict[str, Any] = started.json()
    return body


def steps_of(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["path"]: step for step in execution["steps"]}


FINAL = ("succeeded", "failed", "cancelled", "skipped")


def wait_for_final(db_url: str, ids: list[UUID], timeout: float = 90) -> dict[UUID, str]:
    """Block until every execution has ended, woken by NOTIFY flowdeck_finished."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("LISTEN flowdeck_finished")
        while True:
            rows = conn.execute(
                "SELECT id, status FROM workflow_executions WHERE id = ANY(%s)", (ids,)
            ).fetchall()
            statuses = {row[0]: str(row[1]) for row in rows}
            if all(status in FINAL for status in statuses.values()):
                return statuses
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"not finished in {timeout}s: {statuses}")
            for _ in conn.notifies(timeout=min(remaining, 2.0), stop_after=1):
                pass

"""Every execution ends: one whose worker keeps dying in the same step fails after
FLOWDECK_STEP_CRASH_LIMIT crashes, naming the step; a cancel always wins over a requeue;
a supervised worker that dies is started again."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID

import psutil
import pytest

from tests.api.conftest import Api
from tests.api.conftest import api as api
from tests.engine.conftest import wait_for_final
from tests.helpers import flowdeck_env


class Blocker:
    """A local HTTP server whose /block never answers (until closed): a step in flight.
    Counts hits, and lets a test wait for the n-th."""

    def __init__(self) -> None:
        self.hits = 0
        self.changed = threading.Condition()
        self.released = threading.Event()
        blocker = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with blocker.changed:
                    blocker.hits += 1
                    blocker.changed.notify_all()
                blocker.released.wait(60)
                body = json.dumps({"ok": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/block"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for_hits(self, count: int, timeout: float = 60) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.hits >= count, timeout), self.hits

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def blocker() -> Iterator[Blocker]:
    server = Blocker()
    yield server
    server.close()


class SupervisedWorker:
    """`flowdeck worker` (supervisor and its child) with a one-second lease."""

    def __init__(self, db_url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flowdeck", "worker", "--lease", "1"],
            env=flowdeck_env(database_url=db_url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill_child(self) -> int:
        """kill -9 the worker child (the one running executions); return its pid."""
        [child] = [
            child
            for child in psutil.Process(self.process.pid).children()
            if "--no-supervisor" in child.cmdline()
        ]
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        return child.pid

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


@pytest.fixture
def worker(db_url: str) -> Iterator[SupervisedWorker]:
    supervised = SupervisedWorker(db_url)
    yield supervised
    supervised.stop()


def _start(api: Api, definition: dict[str, Any]) -> UUID:
    ada = api.person("ada")
    made = api.post("/api/workflows", ada, json={"name": "crashy", "definition": definition})
    assert made.status_code == 201, made.json()
    started = api.post(f"/api/workflows/{made.json()['id']}/executions", ada, json={})
    assert started.status_code == 201, started.json()
    return UUID(started.json()["id"])


def _steps(url: str) -> dict[str, Any]:
    return {
        "steps": [
            {"id": "first", "type": "set", "with": {"v": 1}},
            {"id": "call", "type": "http", "with": {"url": url}},
            {"id": "last", "type": "set", "with": {"v": 2}},
        ]
    }


def test_a_worker_killed_three_times_in_the_same_step_fails_the_execution(
    api: Api, blocker: Blocker, worker: SupervisedWorker, db_url: str
) -> None:
    execution = _start(api, _steps(blocker.url))
    killed = set()
    for crash in (1, 2, 3):
        blocker.wait_for_hits(crash)  # the step is in flight (on a new worker each time)
        killed.add(worker.kill_child())
    assert len(killed) == 3, "the supervisor started a new worker after each kill"
    assert wait_for_final(db_url, [execution])[execution] == "failed"
    [row] = api.sql("SELECT error, crash_count FROM workflow_executions WHERE id = %s", execution)
    assert row["crash_count"] == 3
    assert row["error"]["step"] == "call"
    assert row["error"]["message"].startswith(
        "step call lost its worker 3 times in a row without finishing (the limit is 3, "
        "FLOWDECK_STEP_CRASH_LIMIT); the last time its worker stopped renewing the lease"
    )
    assert blocker.hits == 3
    finished = api.sql(
        "SELECT path FROM workflow_execution_steps WHERE execution_id = %s AND status = "
        "'succeeded'",
        execution,
    )
    assert [step["path"] for step in finished] == ["first"]  # replayed, never run again
    # The next execution runs as usual on the worker started after the last kill.
    blocker.released.set()
    after = _start(api, _steps(blocker.url))
    assert wait_for_final(db_url, [after])[after] == "succeeded"


def test_a_cancel_wins_over_the_requeue_of_a_crashed_execution(
    api: Api, blocker: Blocker, worker: SupervisedWorker, db_url: str
) -> None:
    execution = _start(api, _steps(blocker.url))
    blocker.wait_for_hits(1)
    cancelled = api.post(f"/api/executions/{execution}/cancel", api.person("ada"))
    assert cancelled.status_code in (200, 202), cancelled.json()
    worker.kill_child()  # the step never reaches its boundary: the rescuer finds it
    assert wait_for_final(db_url, [execution])[execution] == "cancelled"
    assert blocker.hits == 1, "the cancelled execution was run again"

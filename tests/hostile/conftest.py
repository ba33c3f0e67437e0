"""A real `flowdeck serve` (API in one process, its worker in a supervised child) on a
database of this module's own, for tests that send it the worst work a user can write."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from flowdeck.db import admin
from tests.conftest import SESSION_PREFIX
from tests.helpers import ServeProcess, flowdeck_env

# Smaller than the defaults (1024 MiB, 10 s) to keep the tests quick. The expressions'
# time limit is longer than its default (2 s), so that on a busy machine the operations
# limit is still what stops the loops meant for it; the watchdog's stays above it.
MEMORY_MB = 512
EXPRESSION_SECONDS = 3
BLOCK_SECONDS = 5
TOKEN = re.compile(r"API token: (fd_\S+)")


@dataclass
class HostileServer:
    server: ServeProcess
    client: httpx.Client

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def run(self, definition: dict[str, Any], wait: float = 60) -> dict[str, Any]:
        """Save `definition` as a workflow, run it, and wait for the end."""
        made = self.client.post("/api/workflows", json={"name": "w", "definition": definition})
        assert made.status_code == 201, made.json()
        started = self.client.post(
            f"/api/workflows/{made.json()['id']}/executions",
            params={"wait": wait},
            json={"inputs": {}},
        )
        assert started.status_code == 201, started.json()
        body: dict[str, Any] = started.json()
        return body

    def worker(self) -> psutil.Process:
        """The supervised worker child of this `flowdeck serve`."""
        children = [
            child
            for child in psutil.Process(self.server.process.pid).children()
            if "--no-supervisor" in child.cmdline()
        ]
        assert len(children) == 1, children
        return children[0]


def peak_memory_mb(process: psutil.Process) -> float:
    """The most memory the process ever held in RAM (VmHWM), in MiB."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc")


@pytest.fixture(scope="module")
def hostile(
    server_url: str, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileServer]:
    name = f"{SESSION_PREFIX}_{secrets.token_hex(4)}"
    url = admin.create_database(server_url, name, template=template_database)
    env = flowdeck_env(
        database_url=url,
        data_dir=tmp_path_factory.mktemp("hostile"),
        worker_memory_mb=str(MEMORY_MB),
        worker_block_seconds=str(BLOCK_SECONDS),
        expression_timeout=str(EXPRESSION_SECONDS),
    )
    server = ServeProcess(env)
    try:
        found = TOKEN.search(server.text)  # printed before the server said it was ready
        assert found, server.text
        token = found.group(1)
        with httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=90
        ) as client:
            yield HostileServer(server, client)
    finally:
        server.stop()
        admin.drop_database(server_url, name)

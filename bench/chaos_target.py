"""The chaos benchmark's counting HTTP server: every hit of every `http` step, with its time.

It listens on 127.0.0.1 (a free port) in a thread of the benchmark. A hit is kept with
the step it belongs to, read from the request itself (the `Idempotency-Key` header that
an `idempotent: true` http step sends, `<execution id>:<step path>`), and the wall-clock
time it arrived, taken before anything is answered: a worker can only record a step
finished after the answer, so a hit of the run that finished it is always earlier than
the finish, on the same machine clock as the database's clock_timestamp().

/slow?ms=N answers after N ms (the step kills land in); anything else at once. Both
answer 200 with JSON {"n": <the request's "n">}.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass(frozen=True)
class Hit:
    key: str  # "<execution id>:<step path>", "" when the request carried none
    at: float  # time.time() when it arrived
    route: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # bursts from many workers at once, not refused connections

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A worker killed mid-request leaves a broken pipe here: expected, not news.
        pass


class Target:
    """Start with `start()`, stop with `stop()`; `hits` grows as steps call it."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                arrived = time.time()
                url = urlparse(self.path)
                target.record(Hit(self.headers.get("Idempotency-Key", ""), arrived, url.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    n = json.loads(body or b"{}").get("n")
                except (ValueError, AttributeError):
                    n = None
                if url.path == "/slow":
                    time.sleep(int(parse_qs(url.query).get("ms", ["100"])[0]) / 1000)
                data = json.dumps({"n": n}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def record(self, hit: Hit) -> None:
        with self._lock:
            self.hits.append(hit)

    def snapshot(self) -> list[Hit]:
        with self._lock:
            return list(self.hits)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

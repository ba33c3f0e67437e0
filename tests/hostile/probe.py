"""A /healthz prober for tests of hostile input: everyone else's requests must carry on.

    with HealthProbe(base_url) as probe:
        ...  # send the hostile document, run the hostile step
    probe.assert_responsive()  # every probe answered 200 within 200 ms

The probe runs in a thread of the test process and asks every 100 ms, each request on a
fresh connection with its own timeout, so a server that stops answering shows up as a
slow or failed probe rather than a hung test.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

import httpx

PROBE_INTERVAL = 0.1  # seconds between probes
PROBE_BUDGET = 0.2  # seconds a probe may take


class HealthProbe:
    def __init__(self, base_url: str, *, interval: float = PROBE_INTERVAL) -> None:
        self.base_url = base_url
        self.interval = interval
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._first = threading.Event()
        self._thread = threading.Thread(target=self._run, name="healthz-probe", daemon=True)

    def __enter__(self) -> HealthProbe:
        """Start probing; return once the first probe has been answered (or failed)."""
        self._thread.start()
        self._first.wait(timeout=10)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=5.0) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    answer = client.get("/healthz", headers={"Connection": "close"})
                    if answer.status_code != 200:
                        self.failures.append(f"answered {answer.status_code}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                took = time.perf_counter() - started
                self.latencies.append(took)
                self._first.set()
                self._stop.wait(max(0.0, self.interval - took))

    @property
    def worst(self) -> float:
        return max(self.latencies, default=0.0)

    def assert_responsive(self, budget: float = PROBE_BUDGET) -> None:
        """Every probe answered 200 within `budget` seconds, and there was at least one."""
        assert self.latencies, "the probe never ran"
        assert not self.failures, f"/healthz failed during the run: {self.failures[:5]}"
        slow = [round(latency, 3) for latency in self.latencies if latency > budget]
        assert not slow, (
            f"/healthz took longer than {budget}s {len(slow)} time(s) of "
            f"{len(self.latencies)}: {slow[:10]}"
        )

"""Action step types, one module each, registered in one typed table.

Control-flow steps (branch, foreach, parallel) live in the runner: they run steps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from flowdeck.engine.steps import basic, http
from flowdeck.engine.steps.base import StepRun

Handler = Callable[[Mapping[str, Any], StepRun], Awaitable[Any]]

ACTIONS: dict[str, Handler] = {
    "set": basic.run_set,
    "log": basic.run_log,
    "fail": basic.run_fail,
    "http": http.run_http,
}

"""Step types, one module each, registered in typed tables.

Action steps run within one worker's hold of the execution. Durable steps (delay, wait,
workflow) may suspend it: the execution waits in the database and the step is re-entered
when it wakes. Control-flow steps (branch, foreach, parallel) live in the runner: they
run steps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from flowdeck.engine.steps import basic, child, delay, email, http, llm, wait
from flowdeck.engine.steps.base import DurableRun, StepRun

Handler = Callable[[Mapping[str, Any], StepRun], Awaitable[Any]]
DurableHandler = Callable[[Mapping[str, Any], DurableRun], Awaitable[Any]]

ACTIONS: dict[str, Handler] = {
    "set": basic.run_set,
    "log": basic.run_log,
    "fail": basic.run_fail,
    "http": http.run_http,
    "email": email.run_email,
    "llm": llm.run_llm,
}

DURABLE: dict[str, DurableHandler] = {
    "delay": delay.run_delay,
    "wait": wait.run_wait,
    "workflow": child.run_workflow,
}

"""The execution lifecycle: every change of an execution's status, each one function over
one guarded statement, used by the API, the worker, maintenance and the supervisor alike.

    start            nothing -> queued                  start.py
    claim            queued -> running                  running.py
    finish           running -> succeeded|failed|skipped
    stop_cancelled   running -> cancelled (a cancel asked for, at a step boundary)
    suspend          running -> waiting (-> cancelled when a cancel was asked for)
    release, crash,  running -> queued|cancelled (and, crash and rescue, -> failed at
    rescue             the crash limit)
    fail_stalled     running -> failed
    renew            (no change: a running execution's lease, renewed)
    wake_due,        waiting -> queued (a timer; a signal or a child; a child's end)   waking.py
    wake_ready, wake_parent
    cancel           queued|waiting -> cancelled; running: asked to stop
    retry, rerun     an ended execution -> a new queued one                           history.py

MOVES says which edges of states.TRANSITIONS each function makes; checked against
TRANSITIONS when this package is imported, and edge by edge against the database in
tests/engine/test_transitions.py. Every function runs in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping

from flowdeck.engine.lifecycle.history import LifecycleError, rerun, retry
from flowdeck.engine.lifecycle.running import (
    claim,
    crash,
    fail_stalled,
    finish,
    release,
    renew,
    rescue,
    stop_cancelled,
    suspend,
)
from flowdeck.engine.lifecycle.start import NotStartable, start
from flowdeck.engine.lifecycle.waking import (
    announce,
    cancel,
    ended,
    wake_due,
    wake_parent,
    wake_ready,
)
from flowdeck.engine.states import TRANSITIONS, ExecutionStatus

S = ExecutionStatus
Edge = tuple[ExecutionStatus, ExecutionStatus]
_ENDED_WITHOUT_WORKER = frozenset({(S.RUNNING, S.QUEUED), (S.RUNNING, S.CANCELLED)})
_CRASHED = _ENDED_WITHOUT_WORKER | {(S.RUNNING, S.FAILED)}

MOVES: Mapping[str, frozenset[Edge]] = {
    "claim": frozenset({(S.QUEUED, S.RUNNING)}),
    "finish": frozenset({(S.RUNNING, S.SUCCEEDED), (S.RUNNING, S.FAILED), (S.RUNNING, S.SKIPPED)}),
    "stop_cancelled": frozenset({(S.RUNNING, S.CANCELLED)}),
    "suspend": frozenset({(S.RUNNING, S.WAITING), (S.RUNNING, S.CANCELLED)}),
    "release": _ENDED_WITHOUT_WORKER,
    "crash": _CRASHED,
    "rescue": _CRASHED,
    "fail_stalled": frozenset({(S.RUNNING, S.FAILED)}),
    "wake_due": frozenset({(S.WAITING, S.QUEUED)}),
    "wake_ready": frozenset({(S.WAITING, S.QUEUED)}),
    "wake_parent": frozenset({(S.WAITING, S.QUEUED)}),
    "cancel": frozenset({(S.QUEUED, S.CANCELLED), (S.WAITING, S.CANCELLED)}),
}


def _check(moves: Mapping[str, frozenset[Edge]]) -> None:
    """Each edge a function makes is allowed, and each allowed edge has a function."""
    made = frozenset().union(*moves.values())
    allowed = {(source, target) for source, targets in TRANSITIONS.items() for target in targets}
    if made != allowed:
        raise AssertionError(
            f"lifecycle.MOVES and states.TRANSITIONS differ: not allowed {sorted(made - allowed)}, "
            f"made by nothing {sorted(allowed - made)}"
        )


_check(MOVES)

__all__ = [
    "MOVES",
    "LifecycleError",
    "NotStartable",
    "announce",
    "cancel",
    "claim",
    "crash",
    "ended",
    "fail_stalled",
    "finish",
    "release",
    "renew",
    "rerun",
    "rescue",
    "retry",
    "start",
    "stop_cancelled",
    "suspend",
    "wake_due",
    "wake_parent",
    "wake_ready",
]

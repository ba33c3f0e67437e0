"""Execution and step states, and the one table of allowed execution transitions
(made by the functions of engine/lifecycle, each of which says which edges it makes).

Every transition is a guarded `UPDATE ... WHERE status = <from>`: zero rows means
another process moved the execution first (a rescuer, a cancel), never an error.
The database's CHECK keeps the set of states; this table keeps the moves.
"""

from __future__ import annotations

from enum import StrEnum


class ExecutionStatus(StrEnum):
    # Who moves an execution into each state, and out of it:
    QUEUED = (
        "queued"  # in: start, a waiting one's wake-up, the rescuer. out: a worker's claim, cancel.
    )
    # in: a claim. out: the worker that holds the lease; or, when the worker died or
    # raised, flowdeck_record_crash (-> queued, or -> failed at the crash limit, or ->
    # cancelled when a cancel was asked for); or a supervisor whose worker stalled.
    RUNNING = "running"
    WAITING = (
        "waiting"  # in: a delay/wait/child step. out: its timer or signal (-> queued), cancel.
    )
    SUCCEEDED = "succeeded"  # final
    FAILED = "failed"  # final
    CANCELLED = "cancelled"  # final
    SKIPPED = "skipped"  # final: its conditions did not hold

    @property
    def final(self) -> bool:
        return self in FINAL


FINAL = frozenset(
    {
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.SKIPPED,
    }
)

S = ExecutionStatus
TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    S.QUEUED: frozenset({S.RUNNING, S.CANCELLED}),
    S.RUNNING: frozenset(
        {S.SUCCEEDED, S.FAILED, S.CANCELLED, S.SKIPPED, S.WAITING, S.QUEUED}
    ),  # -> queued: lease expired (rescuer) or released at shutdown
    S.WAITING: frozenset({S.QUEUED, S.CANCELLED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.SKIPPED: frozenset(),
}


# What retry starts again from: an execution that ended without succeeding, and was not
# skipped (its conditions would not hold again).
RETRYABLE = frozenset({ExecutionStatus.FAILED, ExecutionStatus.CANCELLED})


def allowed(source: ExecutionStatus, target: ExecutionStatus) -> bool:
    return target in TRANSITIONS[source]


class StepStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    WAITING = "waiting"


FINISHED_STEP = frozenset({StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED})

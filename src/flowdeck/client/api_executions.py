"""The execution operations of the REST API (start, list, read, cancel, retry, rerun,
live events), written once for both clients; `Operations` (api.py) includes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import httpx

from flowdeck.client.models import Event, Execution, ExecutionSummary, Page, StatusEvent, StepEvent
from flowdeck.client.operation import Operation, StreamOperation, call, model, nothing, stream
from flowdeck.client.sse import ServerSentEvent

Id = UUID | str
MAX_SERVER_WAIT = 300.0
LIVE = httpx.Timeout(30, read=None)  # an event stream may stay quiet while a step runs


def _parse_event(event: ServerSentEvent) -> Event | None:
    if event.event == "step":
        return StepEvent.model_validate_json(event.data)
    if event.event == "status":
        return StatusEvent.model_validate_json(event.data)
    return None  # an event kind this client does not know yet


class ExecutionOperations:
    """Executions: start, list, read, cancel, retry, rerun, follow."""

    @call
    def run_workflow(
        self,
        workflow_id: Id,
        inputs: dict[str, Any] | None = None,
        *,
        wait: float = 0,
        idempotency_key: str | None = None,
        trigger: Literal["api", "manual"] = "api",
    ) -> Operation[Execution]:
        """Start an execution. `wait` (seconds, up to 300): answer when it ends, with its
        outputs and steps. The same `idempotency_key` returns the same execution."""
        path = f"/api/workflows/{workflow_id}/executions"
        return start_operation(path, inputs, wait, idempotency_key, trigger)

    @call
    def list_executions(
        self,
        *,
        status: str | None = None,
        workflow_id: Id | None = None,
        template_id: str | None = None,
        trigger: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Operation[Page[ExecutionSummary]]:
        """A page of my executions, newest first."""
        params: dict[str, Any] = {"status": status, "trigger": trigger, "limit": limit}
        params.update(workflow_id=workflow_id, template_id=template_id, cursor=cursor)
        params.update(since=since and since.isoformat(), until=until and until.isoformat())
        return Operation("GET", "/api/executions", model(Page[ExecutionSummary]), params=params)

    @call
    def get_execution(self, execution_id: Id) -> Operation[Execution]:
        """One execution with its steps (outputs, errors, logs) in the order they started."""
        return Operation("GET", f"/api/executions/{execution_id}", model(Execution))

    @call
    def cancel_execution(self, execution_id: Id) -> Operation[Execution]:
        """Cancel: at once when queued or waiting, at the next step when running."""
        return Operation("POST", f"/api/executions/{execution_id}/cancel", model(Execution))

    @call
    def retry_execution(self, execution_id: Id) -> Operation[Execution]:
        """A failed or cancelled execution again, from the step that failed."""
        return Operation("POST", f"/api/executions/{execution_id}/retry", model(Execution))

    @call
    def rerun_execution(
        self, execution_id: Id, inputs: dict[str, Any] | None = None
    ) -> Operation[Execution]:
        """The same workflow again from the start, with new inputs or the same ones."""
        path = f"/api/executions/{execution_id}/rerun"
        return Operation("POST", path, model(Execution), json={"inputs": inputs})

    @stream
    def events(self, execution_id: Id) -> StreamOperation[Event]:
        """Live progress: a `StepEvent` when a step starts or ends, a `StatusEvent` when
        the status changes; the stream ends after the final status."""
        path = f"/api/executions/{execution_id}/events"
        accept = {"Accept": "text/event-stream"}
        request: Operation[None] = Operation("GET", path, nothing, headers=accept, timeout=LIVE)
        return StreamOperation(request, _parse_event)


def start_operation(
    path: str,
    inputs: dict[str, Any] | None,
    wait: float,
    idempotency_key: str | None,
    trigger: str,
) -> Operation[Execution]:
    """Start an execution at `path` (of a workflow or a template); with `wait`, the
    server answers when it ends, so the read timeout is longer than the wait."""
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    wait = min(max(wait, 0.0), MAX_SERVER_WAIT)
    return Operation(
        "POST",
        path,
        model(Execution),
        params={"wait": wait or None},
        json={"inputs": inputs or {}, "trigger": trigger},
        headers=headers,
        timeout=httpx.Timeout(wait + 30, connect=10) if wait else None,
    )

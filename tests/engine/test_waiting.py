"""Durable waiting: delay, wait (signals) and workflow (child executions). The execution
waits in the database, holds no worker, and is woken by its timer, a signal or its child.
Real workers, a real PostgreSQL; tests wait on NOTIFY, never on sleeps."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from tests.api.conftest import Api, Person, error_of
from tests.engine.conftest import Target, steps_of, wait_for_final
from tests.engine.test_durability import Workers, _start_many, _workflow
from tests.engine.test_durability import workers as workers


def wait_for_waiting(db_url: str, execution_id: str, timeout: float = 30) -> dict[str, Any]:
    """Block until the execution is `waiting` (woken by NOTIFY flowdeck_waiting); its row."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("LISTEN flowdeck_waiting")
        while True:
            row = conn.execute(
                "SELECT status, worker_id, scheduled_at, lease_expires_at, attempt "
                "FROM workflow_executions WHERE id = %s",
                (execution_id,),
            ).fetchone()
            assert row is not None
            if row[0] == "waiting":
                return dict(
                    zip(
                        ("status", "worker_id", "scheduled_at", "lease", "attempt"),
                        row,
                        strict=True,
                    )
                )
            assert row[0] in ("queued", "running"), f"ended ({row[0]}) instead of waiting"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"not waiting within {timeout}s: {row[0]}")
            for _ in conn.notifies(timeout=min(remaining, 2.0), stop_after=1):
                pass


def start(api: Api, who: Person, definition: dict[str, Any], name: str = "test") -> str:
    """Save a workflow and start it without waiting; the execution id."""
    made = api.post("/api/workflows", who, json={"name": name, "definition": definition})
    assert made.status_code == 201, made.json()
    started = api.post(f"/api/workflows/{made.json()['id']}/executions", who, json={})
    assert started.status_code == 201, started.json()
    execution_id: str = started.json()["id"]
    return execution_id


def finished(api: Api, who: Person, execution_id: str) -> dict[str, Any]:
    wait_for_final(api.db_url, [UUID(execution_id)])
    body: dict[str, Any] = api.get(f"/api/executions/{execution_id}", who).json()
    return body


def send(api: Api, who: Person, execution_id: str, name: str, payload: Any) -> Any:
    return api.post(f"/api/executions/{execution_id}/signals/{name}", who, json=payload)


# --- delay ---------------------------------------------------------------------------------


def test_a_delay_waits_in_the_database_then_succeeds(engine: Api) -> None:
    ada = engine.person("ada")
    execution = start(
        engine,
        ada,
        {
            "steps": [
                {"id": "before", "type": "set", "with": {"x": 1}},
                {"id": "pause", "type": "delay", "with": {"for": "1500ms"}},
                {"id": "after", "type": "set", "with": {"y": "{{ steps.before.output.x }}"}},
            ],
            "outputs": {"y": "{{ steps.after.output.y }}"},
        },
    )
    row = wait_for_waiting(engine.db_url, execution)
    assert row["worker_id"] is None and row["lease"] is None  # it holds no worker
    assert row["scheduled_at"] > datetime.now(UTC)  # its timer
    waiting = engine.get(f"/api/executions/{execution}", ada).json()
    assert steps_of(waiting)["pause"]["status"] == "waiting"
    body = finished(engine, ada, execution)
    assert body["status"] == "succeeded", body
    assert body["outputs"] == {"y": 1}
    pause = steps_of(body)["pause"]
    assert pause["status"] == "succeeded"
    waited_until = datetime.fromisoformat(pause["output"]["waited_until"])
    assert waited_until == row["scheduled_at"]
    assert datetime.fromisoformat(pause["finished_at"]) >= waited_until
    assert body["attempt"] == 2  # claimed again after it woke


def test_a_delay_already_due_does_not_wait(engine: Api) -> None:
    ada = engine.person("ada")
    past = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    execution = start(
        engine,
        ada,
        {
            "steps": [
                {"id": "zero", "type": "delay", "with": {"for": 0}},
                {"id": "past", "type": "delay", "with": {"until": past}},  # no offset: UTC
            ]
        },
    )
    body = finished(engine, ada, execution)
    assert body["status"] == "succeeded", body
    assert body["attempt"] == 1  # never parked
    assert steps_of(body)["past"]["output"] == {
        "waited_until": datetime.fromisoformat(past).replace(tzinfo=UTC).isoformat()
    }


def test_a_durable_delay_survives_a_worker_restart(
    api: Api, target: Target, workers: Workers, db_url: str
) -> None:
    user_id, workflow_id = _workflow(
        api,
        {
            "steps": [
                {"id": "before", "type": "http", "with": {"url": f"{target.url}/ok/before"}},
                {"id": "pause", "type": "delay", "with": {"for": "2s"}},
                {"id": "after", "type": "http", "with": {"url": f"{target.url}/ok/after"}},
            ]
        },
    )
    first = workers.start()
    [execution] = _start_many(db_url, user_id, workflow_id, 1)
    wait_for_waiting(db_url, str(execution))
    first.send_signal(signal.SIGTERM)  # nothing runs: it stops at once
    assert first.wait(timeout=30) == 0
    workers.start()
    assert wait_for_final(db_url, [execution])[execution] == "succeeded"
    assert (target.hits["/ok/before"], target.hits["/ok/after"]) == (1, 1)


# --- wait and signals ----------------------------------------------------------------------

APPROVAL: dict[str, Any] = {
    "steps": [
        {"id": "approval", "type": "wait", "with": {"signal": "approval", "timeout": "1h"}},
        {
            "id": "decide",
            "type": "branch",
            "if": "{{ steps.approval.output.approved }}",
            "then": [{"id": "go", "type": "set", "with": {"by": "{{ steps.approval.output.by }}"}}],
            "else": [{"id": "stop", "type": "fail", "with": {"message": "refused"}}],
        },
    ],
    "outputs": {"by": "{{ steps.approval.output.by }}"},
}


def test_a_signal_wakes_the_wait_and_its_payload_is_the_output(engine: Api) -> None:
    ada = engine.person("ada")
    execution = start(engine, ada, APPROVAL)
    row = wait_for_waiting(engine.db_url, execution)
    assert row["worker_id"] is None
    sent = send(engine, ada, execution, "approval", {"approved": True, "by": "bob"})
    assert sent.status_code == 202, sent.json()
    assert sent.json() == {"execution_id": execution, "signal": "approval", "delivered": True}
    body = finished(engine, ada, execution)
    assert body["status"] == "succeeded", body
    assert steps_of(body)["approval"]["output"] == {"approved": True, "by": "bob"}
    assert steps_of(body)["decide"]["output"] == {"taken": "then"}
    assert body["outputs"] == {"by": "bob"}


def test_a_signal_sent_early_is_kept_and_each_wait_takes_one(engine: Api, target: Target) -> None:
    ada = engine.person("ada")
    execution = start(
        engine,
        ada,
        {
            "steps": [
                {"id": "first", "type": "http", "with": {"url": f"{target.url}/block/early"}},
                {"id": "one", "type": "wait", "with": {"signal": "approval"}},
                {"id": "two", "type": "wait", "with": {"signal": "approval"}},
            ],
            "outputs": {"got": "{{ [steps.one.output, steps.two.output] }}"},
        },
    )
    assert target.wait_entered("early")
    for payload in ("ann", "bo"):
        sent = send(engine, ada, execution, "approval", payload)
        assert (sent.status_code, sent.json()["delivered"]) == (202, False)  # kept for later
    target.release("early")
    body = finished(engine, ada, execution)
    assert body["status"] == "succeeded", body
    assert body["outputs"] == {"got": ["ann", "bo"]}
    assert body["attempt"] == 1  # both were there: it never had to wait
    taken = engine.sql(
        "SELECT payload, consumed_by_path FROM execution_signals WHERE execution_id = %s "
        "ORDER BY created_at",
        execution,
    )
    assert [(r["payload"], r["consumed_by_path"]) for r in taken] == [("ann", "one"), ("bo", "two")]


def test_a_wait_that_times_out_fails_the_step(engine: Api) -> None:
    ada = engine.person("ada")
    execution = start(
        engine,
        ada,
        {
            "steps": [
                {
                    "id": "approval",
                    "type": "wait",
                    "continue_on_error": True,
                    "with": {"signal": "approval", "timeout": "1s"},
                },
                {
                    "id": "escalate",
                    "type": "set",
                    "when": "{{ steps.approval.status == 'failed' }}",
                    "with": {"why": "{{ steps.approval.error.message }}"},
                },
            ],
            "outputs": {"why": "{{ steps.escalate.output.why }}"},
        },
    )
    row = wait_for_waiting(engine.db_url, execution)
    assert row["scheduled_at"] > datetime.now(UTC)  # the timeout is its timer
    body = finished(engine, ada, execution)
    assert body["status"] == "succeeded", body
    assert steps_of(body)["approval"]["status"] == "failed"
    assert body["outputs"] == {"why": "no 'approval' signal within 1s"}


def test_signals_to_another_users_or_a_finished_execution_or_with_a_bad_name(
    engine: Api,
) -> None:
    ada, bob = engine.person("ada"), engine.person("bob")
    execution = start(engine, ada, APPROVAL)
    theirs = send(engine, bob, execution, "approval", {"approved": True})
    missing = send(engine, bob, str(UUID(int=1)), "approval", {"approved": True})
    assert theirs.status_code == missing.status_code == 404
    assert error_of(theirs) == error_of(missing)
    for bad in ("1st", "a-b", "x" * 256):
        assert send(engine, ada, execution, bad, {}).status_code == 422, bad
    send(engine, ada, execution, "approval", {"approved": False})
    assert finished(engine, ada, execution)["status"] == "failed"  # refused: the else branch
    late = send(engine, ada, execution, "approval", {"approved": True})
    assert late.status_code == 409
    assert error_of(late)["code"] == "execution_finished"
    count = engine.sql(
        "SELECT count(*) AS n FROM execution_signals WHERE execution_id = %s", execution
    )
    assert count[0]["n"] == 1  # neither Bob's nor the late one was kept


def test_any_json_value_is_a_payload(engine: Api) -> None:
    ada = engine.person("ada")
    execution = start(
        engine, ada, {"steps": [{"id": "w", "type": "wait", "with": {"signal": "go"}}]}
    )
    wait_for_waiting(engine.db_url, execution)
    sent = engine.client.post(
        f"/api/executions/{execution}/signals/go",
        headers={**ada.headers, "Content-Type": "application/json"},
        content=b'[1, null, "x"]',
    )
    assert sent.status_code == 202, sent.text
    assert steps_of(finished(engine, ada, execution))["w"]["output"] == [1, None, "x"]
    other = start(engine, ada, {"steps": [{"id": "w", "type": "wait", "with": {"signal": "go"}}]})
    empty = engine.client.post(f"/api/executions/{other}/signals/go", headers=ada.headers)
    assert empty.status_code == 202, empty.text  # no body: the payload is null
    assert steps_of(finished(engine, ada, other))["w"]["output"] is None


def test_a_waiting_execution_fails_at_its_deadline(engine: Api) -> None:
    ada = engine.person("ada")
    execution = start(
        engine,
        ada,
        {"timeout": "1s", "steps": [{"id": "w", "type": "wait", "with": {"signal": "never"}}]},
    )
    row = wait_for_waiting(engine.db_url, execution)
    assert row["scheduled_at"] is not None  # no timeout of its own: woken at the deadline
    body = finished(engine, ada, execution)
    assert body["status"] == "failed"
    assert "the execution timed out" in body["error"]["message"]


# --- workflow: child executions ------------------------------------------------------------

DOUBLE: dict[str, Any] = {
    "inputs": {"n": {"type": "integer"}},
    "steps": [{"id": "calc", "type": "set", "with": {"value": "{{ inputs.n * 2 }}"}}],
    "outputs": {"double": "{{ steps.calc.output.value }}"},
}


def _save(api: Api, who: Person, name: str, definition: dict[str, Any]) -> str:
    made = api.post("/api/workflows", who, json={"name": name, "definition": definition})
    assert made.status_code == 201, made.json()
    workflow_id: str = made.json()["id"]
    return workflow_id


def test_a_workflow_step_runs_a_child_and_gets_its_outputs(engine: Api) -> None:
    ada = engine.person("ada")
    _save(engine, ada, "double", DOUBLE)
    execution = start(
        engine,
        ada,
        {
            "steps": [
                {
                    "id": "child",
                    "type": "workflow",
                    "with": {"workflow": "double", "inputs": {"n": 21}},
                }
            ],
            "outputs": {"got": "{{ steps.child.output.double }}"},
        },
    )
    body = finished(engine, ada, execution)
    assert body["status"] == "succeeded", body
    assert body["outputs"] == {"got": 42}
    [child] = engine.sql(
        "SELECT id, user_id, trigger, status, idempotency_key FROM workflow_executions "
        "WHERE parent_execution_id = %s",
        execution,
    )
    assert (child["trigger"], child["status"], child["user_id"]) == (
        "workflow",
        "succeeded",
        ada.id,
    )
    assert child["idempotency_key"] == f"{execution}:child"


def test_a_failed_child_fails_the_step_and_a_missing_workflow_says_so(engine: Api) -> None:
    ada = engine.person("ada")
    boom = _save(
        engine, ada, "boom", {"steps": [{"id": "x", "type": "fail", "with": {"message": "boom"}}]}
    )
    execution = start(
        engine,
        ada,
        {
            "steps": [
                {
                    "id": "child",
                    "type": "workflow",
                    "continue_on_error": True,
                    "with": {"workflow": boom},
                },
                {"id": "nobody", "type": "workflow", "with": {"workflow": "no-such-workflow"}},
            ]
        },
    )
    body = finished(engine, ada, execution)
    assert body["status"] == "failed"
    child = steps_of(body)["child"]
    assert child["status"] == "failed"
    assert child["error"]["message"] == "the child execution failed: boom"
    assert child["error"]["child_error"]["step"] == "x"
    assert body["error"]["step"] == "nobody"
    assert "no workflow with the id or name 'no-such-workflow'" in body["error"]["message"]


def test_a_replay_does_not_start_a_second_child(engine: Api, target: Target) -> None:
    ada = engine.person("ada")
    _save(
        engine,
        ada,
        "slow",
        {"steps": [{"id": "hold", "type": "http", "with": {"url": f"{target.url}/block/child"}}]},
    )
    execution = start(
        engine, ada, {"steps": [{"id": "run", "type": "workflow", "with": {"workflow": "slow"}}]}
    )
    assert target.wait_entered("child")
    wait_for_waiting(engine.db_url, execution)
    # As if the parent's worker died after starting the child but before recording that
    # it waits for it: the step has no record of the child, and the execution is queued.
    engine.sql(
        "UPDATE workflow_execution_steps SET status = 'running', output = NULL "
        "WHERE execution_id = %s AND path = 'run'",
        execution,
    )
    engine.sql(
        "UPDATE workflow_executions SET status = 'queued', scheduled_at = now() WHERE id = %s",
        execution,
    )
    engine.sql("SELECT pg_notify('flowdeck_queued', '')")
    row = wait_for_waiting(engine.db_url, execution)
    assert row["attempt"] == 2  # it ran again, and waits for the same child
    target.release("child")
    assert finished(engine, ada, execution)["status"] == "succeeded"
    children = engine.sql(
        "SELECT id FROM workflow_executions WHERE parent_execution_id = %s", execution
    )
    assert len(children) == 1
    assert target.hits["/block/child"] == 1


def test_foreach_children_and_a_parallel_delay(engine: Api) -> None:
    ada = engine.person("ada")
    _save(engine, ada, "double", DOUBLE)
    execution = start(
        engine,
        ada,
        {
            "steps": [
                {
                    "id": "both",
                    "type": "parallel",
                    "branches": {
                        "runs": [
                            {
                                "id": "each",
                                "type": "foreach",
                                "items": "{{ [1, 2, 3] }}",
                                "concurrency": 2,
                                "steps": [
                                    {
                                        "id": "c",
                                        "type": "workflow",
                                        "with": {
                                            "workflow": "double",
                                            "inputs": {"n": "{{ item }}"},
                                        },
                                    }
                                ],
                            }
                        ],
                        "pause": [{"id": "p", "type": "delay", "with": {"for": "500ms"}}],
                    },
                }
            ],
            "outputs": {
                "doubles": "{{ steps.both.output.runs.each | map(attribute='c')"
                " | map(attribute='double') | list }}"
            },
        },
    )
    body = finished(engine, ada, execution)
    assert body["status"] == "succeeded", body
    assert body["outputs"] == {"doubles": [2, 4, 6]}


# --- cancel --------------------------------------------------------------------------------


def test_cancelling_a_waiting_execution_ends_it_at_once(engine: Api) -> None:
    ada = engine.person("ada")
    execution = start(
        engine, ada, {"steps": [{"id": "later", "type": "delay", "with": {"for": "1h"}}]}
    )
    wait_for_waiting(engine.db_url, execution)
    cancelled = engine.post(f"/api/executions/{execution}/cancel", ada)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    # Its timer coming due afterwards changes nothing: waking is guarded by `waiting`.
    engine.sql("UPDATE workflow_executions SET scheduled_at = now() WHERE id = %s", execution)
    woken = engine.sql(
        "UPDATE workflow_executions SET status = 'queued' WHERE id = %s AND status = 'waiting' "
        "RETURNING id",
        execution,
    )
    assert woken == []
    late = send(engine, ada, execution, "approval", {})
    assert late.status_code == 409
    assert engine.get(f"/api/executions/{execution}", ada).json()["status"] == "cancelled"

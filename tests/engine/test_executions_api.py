"""The executions API with a worker in the process: start, wait, idempotency, history,
cancel, and a database that drops the worker's connections mid-run."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from tests.api.conftest import Api, error_of
from tests.engine.conftest import Target, wait_for_final

HELLO: dict[str, Any] = {"steps": [{"id": "hello", "type": "log", "with": {"message": "hi"}}]}


def _workflow(api: Api, who: Any, definition: dict[str, Any]) -> str:
    made = api.post("/api/workflows", who, json={"name": "wf", "definition": definition})
    assert made.status_code == 201, made.json()
    workflow_id: str = made.json()["id"]
    return workflow_id


def test_start_without_wait_answers_queued_then_finishes(engine: Api) -> None:
    ada = engine.person("ada")
    workflow = _workflow(engine, ada, HELLO)
    started = engine.post(f"/api/workflows/{workflow}/executions", ada, json={})
    assert started.status_code == 201
    assert started.headers["location"] == f"/api/executions/{started.json()['id']}"
    assert started.json()["status"] in ("queued", "running", "succeeded")
    waited = engine.post(f"/api/workflows/{workflow}/executions", ada, params={"wait": 30})
    assert waited.json()["status"] == "succeeded"
    counted = engine.get(f"/api/workflows/{workflow}", ada).json()
    assert counted["execution_count"] == 2 and counted["last_used"] is not None


def test_the_same_idempotency_key_returns_the_same_execution(engine: Api) -> None:
    ada = engine.person("ada")
    workflow = _workflow(engine, ada, HELLO)
    key = {"Idempotency-Key": "order-42"}
    first = engine.post(
        f"/api/workflows/{workflow}/executions", ada, headers=key, params={"wait": 30}
    )
    again = engine.post(f"/api/workflows/{workflow}/executions", ada, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert engine.get(f"/api/workflows/{workflow}", ada).json()["execution_count"] == 1
    other = engine.post(f"/api/workflows/{workflow}/executions", engine.person("bob"), headers=key)
    assert other.status_code == 404  # Bob's key space is his own, and the workflow is Ada's


def test_inputs_are_checked_with_paths(engine: Api) -> None:
    ada = engine.person("ada")
    workflow = _workflow(engine, ada, {"inputs": {"n": {"type": "integer"}}, **HELLO})
    bad = engine.post(
        f"/api/workflows/{workflow}/executions", ada, json={"inputs": {"n": "x", "m": 1}}
    )
    assert bad.status_code == 422
    assert {d["path"] for d in error_of(bad)["details"]} == {"inputs.n", "inputs.m"}
    assert engine.get("/api/executions", ada).json()["items"] == []


def test_run_a_template_directly_counts_its_use(engine: Api, target: Target) -> None:
    ada = engine.person("ada")
    before = engine.get("/api/templates/wait-until-healthy", ada).json()["usage_count"]
    started = engine.post(
        "/api/templates/wait-until-healthy/executions",
        ada,
        json={"inputs": {"health_url": f"{target.url}/ok"}},
    )
    assert started.status_code == 201, started.json()
    assert started.json()["template_id"] == "wait-until-healthy"
    assert started.json()["user_workflow_id"] is None
    after = engine.get("/api/templates/wait-until-healthy", ada).json()["usage_count"]
    assert after == before + 1


def test_history_newest_first_with_filters_and_pages(engine: Api) -> None:
    ada = engine.person("ada")
    good = _workflow(engine, ada, HELLO)
    bad = _workflow(
        engine, ada, {"steps": [{"id": "x", "type": "fail", "with": {"message": "no"}}]}
    )
    ids = [
        engine.post(f"/api/workflows/{wf}/executions", ada, params={"wait": 30}).json()["id"]
        for wf in (good, bad, good)
    ]
    listed = engine.get("/api/executions", ada).json()["items"]
    assert [e["id"] for e in listed] == list(reversed(ids))
    failed = engine.get("/api/executions", ada, params={"status": "failed"}).json()["items"]
    assert [e["id"] for e in failed] == [ids[1]]
    mine = engine.get("/api/executions", ada, params={"workflow_id": good}).json()["items"]
    assert {e["id"] for e in mine} == {ids[0], ids[2]}
    first = engine.get("/api/executions", ada, params={"limit": 2}).json()
    second = engine.get(
        "/api/executions", ada, params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [e["id"] for e in first["items"] + second["items"]] == list(reversed(ids))
    assert second["next_cursor"] is None
    assert engine.get("/api/executions", engine.person("bob")).json()["items"] == []


def test_cancel_a_running_execution_at_the_next_step(engine: Api, target: Target) -> None:
    ada = engine.person("ada")
    workflow = _workflow(
        engine,
        ada,
        {
            "steps": [
                {"id": "wait_here", "type": "http", "with": {"url": f"{target.url}/block/c"}},
                {"id": "never", "type": "http", "with": {"url": f"{target.url}/ok/never"}},
            ]
        },
    )
    execution = engine.post(f"/api/workflows/{workflow}/executions", ada).json()["id"]
    assert target.wait_entered("c")
    cancelled = engine.post(f"/api/executions/{execution}/cancel", ada)
    assert cancelled.status_code == 200
    assert cancelled.json()["cancel_requested"] is True
    target.release("c")
    body = _wait(engine, ada, execution)
    assert body["status"] == "cancelled"
    assert target.hits["/ok/never"] == 0
    again = engine.post(f"/api/executions/{execution}/cancel", ada)
    assert again.status_code == 409
    assert error_of(again)["code"] == "execution_finished"


def _wait(api: Api, who: Any, execution_id: str) -> dict[str, Any]:
    """The execution once it has ended (woken by NOTIFY, not by polling)."""
    wait_for_final(api.db_url, [UUID(execution_id)])
    body: dict[str, Any] = api.get(f"/api/executions/{execution_id}", who).json()
    return body


def test_the_worker_survives_its_connections_being_terminated(engine: Api, target: Target) -> None:
    ada = engine.person("ada")
    workflow = _workflow(
        engine,
        ada,
        {
            "steps": [
                {"id": "before", "type": "http", "with": {"url": f"{target.url}/ok/before"}},
                {"id": "hold", "type": "http", "with": {"url": f"{target.url}/block/hold"}},
                {"id": "after", "type": "http", "with": {"url": f"{target.url}/ok/after"}},
            ]
        },
    )
    execution = engine.post(f"/api/workflows/{workflow}/executions", ada).json()["id"]
    assert target.wait_entered("hold")
    killed = engine.sql(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    assert killed[0]["n"] >= 1
    target.release("hold")
    body = _wait(engine, ada, execution)
    assert body["status"] == "succeeded", body
    assert (target.hits["/ok/before"], target.hits["/ok/after"]) == (1, 1)

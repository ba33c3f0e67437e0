"""After the fact: retry from the failed step, rerun from the start, the event stream,
and retention."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from flowdeck.engine.retention import delete_expired
from tests.api.conftest import Api, error_of
from tests.engine.conftest import Target, run, steps_of, wait_for_final


def test_retry_reuses_succeeded_steps_and_continues_from_the_failed_one(
    engine: Api, target: Target
) -> None:
    ada = engine.person("ada")
    failed = run(
        engine,
        ada,
        {
            "steps": [
                {"id": "first", "type": "http", "with": {"url": f"{target.url}/ok/first"}},
                {"id": "flaky", "type": "http", "with": {"url": f"{target.url}/flaky/r?fail=1"}},
                {"id": "last", "type": "http", "with": {"url": f"{target.url}/ok/last"}},
            ]
        },
    )
    assert failed["status"] == "failed"
    response = engine.post(f"/api/executions/{failed['id']}/retry", ada)
    assert response.status_code == 201, response.json()
    retry = response.json()
    assert retry["retry_of"] == failed["id"]

    wait_for_final(engine.db_url, [UUID(retry["id"])])
    done = engine.get(f"/api/executions/{retry['id']}", ada).json()
    assert done["status"] == "succeeded", done
    assert target.hits["/ok/first"] == 1, "the retry ran a step that had succeeded"
    assert target.hits["/flaky/r"] == 2
    assert target.hits["/ok/last"] == 1
    assert set(steps_of(done)) == {"first", "flaky", "last"}
    not_again = engine.post(f"/api/executions/{done['id']}/retry", ada)
    assert not_again.status_code == 409
    assert error_of(not_again)["code"] == "not_retryable"


def test_rerun_starts_over_with_edited_inputs(engine: Api) -> None:
    ada = engine.person("ada")
    first = run(
        engine,
        ada,
        {
            "inputs": {"n": {"type": "integer"}},
            "steps": [{"id": "s", "type": "set", "with": {"v": "{{ inputs.n * 10 }}"}}],
            "outputs": {"v": "{{ steps.s.output.v }}"},
        },
        inputs={"n": 1},
    )
    again = engine.post(f"/api/executions/{first['id']}/rerun", ada, json={"inputs": {"n": 5}})
    assert again.status_code == 201, again.json()
    same = engine.post(f"/api/executions/{first['id']}/rerun", ada)
    assert same.json()["inputs"] == {"n": 1}

    wait_for_final(engine.db_url, [UUID(again.json()["id"]), UUID(same.json()["id"])])
    assert engine.get(f"/api/executions/{again.json()['id']}", ada).json()["outputs"] == {"v": 50}
    assert (
        engine.post(f"/api/executions/{first['id']}/rerun", engine.person("bob")).status_code == 404
    )


def test_the_event_stream_tells_each_step_and_status(engine: Api, target: Target) -> None:
    ada = engine.person("ada")
    made = engine.post(
        "/api/workflows",
        ada,
        json={
            "name": "sse",
            "definition": {
                "steps": [
                    {"id": "hold", "type": "http", "with": {"url": f"{target.url}/block/sse"}},
                    {"id": "after", "type": "set", "with": {"x": 1}},
                ]
            },
        },
    ).json()
    execution = engine.post(f"/api/workflows/{made['id']}/executions", ada).json()["id"]
    events: list[tuple[str, Any]] = []
    with engine.client.stream(
        "GET", f"/api/executions/{execution}/events", headers=ada.headers
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
                if kind == "step" and events[-1][1]["path"] == "hold":
                    target.release("sse")  # the stream saw the step start: let it finish
    statuses = [data["status"] for kind, data in events if kind == "status"]
    assert statuses[-1] == "succeeded"
    step_events = [(data["path"], data["status"]) for kind, data in events if kind == "step"]
    assert ("hold", "running") in step_events
    assert ("hold", "succeeded") in step_events
    assert ("after", "succeeded") in step_events
    missing = engine.get("/api/executions/00000000-0000-0000-0000-000000000000/events", ada)
    assert missing.status_code == 404


def test_retention_deletes_old_finished_executions_only(engine: Api) -> None:
    ada = engine.person("ada")
    old = run(engine, ada, {"steps": [{"id": "a", "type": "set", "with": {"x": 1}}]})
    recent = run(engine, ada, {"steps": [{"id": "a", "type": "set", "with": {"x": 1}}]})
    engine.sql(
        "UPDATE workflow_executions SET finished_at = now() - interval '40 days' WHERE id = %s",
        old["id"],
    )

    async def sweep() -> int:
        async with await AsyncConnection.connect(
            engine.db_url, autocommit=True, row_factory=dict_row
        ) as conn:
            return await delete_expired(conn, timedelta(days=30))

    assert asyncio.run(sweep()) == 1
    assert engine.get(f"/api/executions/{old['id']}", ada).status_code == 404
    assert engine.get(f"/api/executions/{recent['id']}", ada).status_code == 200
    steps = engine.sql(
        "SELECT count(*) AS n FROM workflow_execution_steps WHERE execution_id = %s", old["id"]
    )
    assert steps == [{"n": 0}]

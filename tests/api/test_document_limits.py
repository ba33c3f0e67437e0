"""Every way a person sends a YAML or JSON document is held to the document limits: the
answer is a 4xx within a second that names the limit, and nothing new is stored.

Through the real app and PostgreSQL: create, patch, import (YAML and JSON), the editor's
check and save, trigger inputs, execution inputs (of a workflow and of a template),
signals, webhook bodies and the run form's JSON boxes.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import flowdeck.api.routes
import flowdeck.web.pages
from flowdeck.api.app import create_app
from flowdeck.config import Settings
from flowdeck.http.bodies import BoundedRoute
from tests.api.conftest import Api, Person, error_of, running_server
from tests.api.conftest import api as api
from tests.unit.test_documents import alias_bomb
from tests.web.test_pages import browser_of, token

BUDGET = 1.0  # seconds for an answer
DEEP = "[" * 10_000 + "]" * 10_000  # past json.loads' recursion, in 20 KB
DEPTH = "nested more than 64 levels deep (FLOWDECK_DOCUMENT_MAX_DEPTH)"
NODES = "more than 100000 nodes once its aliases are expanded (FLOWDECK_DOCUMENT_MAX_NODES)"
DEFINITION: dict[str, Any] = {
    "inputs": {"payload": {"type": "object", "required": False}},
    "steps": [{"id": "note", "type": "log", "with": {"message": "hi"}}],
}
HOOKED: dict[str, Any] = {
    "inputs": {"body": {"type": "object", "required": False}},
    "steps": [{"id": "note", "type": "log", "with": {"message": "hi"}}],
}
TABLES = (
    "user_workflows",
    "workflow_executions",
    "workflow_execution_steps",
    "workflow_triggers",
    "execution_signals",
    "webhook_deliveries",
)


def stored(api: Api) -> dict[str, Any]:
    """What the database holds that a document could have added or changed."""
    counts = {
        table: api.sql(f"SELECT count(*) AS n FROM {table}")[0]["n"]  # noqa: S608 (our own names)
        for table in TABLES
    }
    definitions = api.sql("SELECT id, definition, config FROM user_workflows ORDER BY id")
    triggers = api.sql("SELECT id, inputs FROM workflow_triggers ORDER BY id")
    return {**counts, "workflows": definitions, "triggers": triggers}


def timed(send: Callable[[], httpx.Response]) -> httpx.Response:
    started = time.perf_counter()
    response = send()
    took = time.perf_counter() - started
    assert took < BUDGET, f"answered in {took:.2f}s"
    return response


def refused(response: httpx.Response, *expected: str) -> None:
    """A 400 document_too_complex in the one error shape, naming the limit."""
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "document_too_complex", error
    for text in expected:
        assert text in error["message"], error["message"]


def json_body(text: str) -> dict[str, Any]:
    return {"content": text, "headers": {"Content-Type": "application/json"}}


def workflow(api: Api, who: Person, definition: dict[str, Any] = DEFINITION) -> str:
    made = api.post("/api/workflows", who, json={"name": "bounded", "definition": definition})
    assert made.status_code == 201, made.text
    workflow_id: str = made.json()["id"]
    return workflow_id


def test_every_route_reads_its_body_with_the_bounded_parser() -> None:
    checked = 0
    for package in (flowdeck.api.routes, flowdeck.web.pages):
        for module_info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            router = getattr(importlib.import_module(module_info.name), "router", None)
            if router is None:
                continue
            assert issubclass(router.route_class, BoundedRoute), module_info.name
            for route in router.routes:
                assert isinstance(route, BoundedRoute), (module_info.name, route)
                checked += 1
    assert checked > 50


def test_create_and_patch_refuse_a_deep_body(api: Api) -> None:
    ada = api.person("ada")
    workflow_id = workflow(api, ada)
    before = stored(api)
    deep_definition = '{"name": "deep", "definition": {"steps": [], "goal": ' + DEEP + "}}"
    created = timed(lambda: api.post("/api/workflows", ada, **json_body(deep_definition)))
    refused(created, "The request body is", DEPTH)
    patched = timed(
        lambda: api.client.patch(
            f"/api/workflows/{workflow_id}",
            content='{"config": {"payload": ' + DEEP + "}}",
            headers={**ada.headers, "Content-Type": "application/json"},
        )
    )
    refused(patched, DEPTH)
    assert stored(api) == before


def test_import_refuses_the_alias_bomb_and_deep_yaml_and_json(api: Api) -> None:
    ada = api.person("ada")
    before = stored(api)
    yaml_headers = {"Content-Type": "application/yaml"}
    bomb = "name: bomb\ndefinition:\n  steps: []\n" + alias_bomb()
    answer = timed(
        lambda: api.post("/api/workflows/import", ada, content=bomb, headers=yaml_headers)
    )
    refused(answer, f"The document has {NODES} at line 9.")
    deep_yaml = "name: deep\ndefinition: " + "[" * 5000 + "]" * 5000
    answer = timed(
        lambda: api.post("/api/workflows/import", ada, content=deep_yaml, headers=yaml_headers)
    )
    refused(answer, DEPTH, "at line 2")
    deep_json = '{"name": "deep", "definition": ' + DEEP + "}"
    answer = timed(lambda: api.post("/api/workflows/import", ada, **json_body(deep_json)))
    refused(answer, DEPTH)
    assert stored(api) == before
    fine = api.post("/api/workflows/import", ada, json={"name": "fine", "definition": DEFINITION})
    assert fine.status_code == 201, fine.text


def test_the_editor_shows_the_limit_at_its_line_and_saves_nothing(api: Api) -> None:
    ada = api.person("ada")
    workflow_id = workflow(api, ada)
    before = stored(api)
    text = "steps: []\n" + alias_bomb()
    with browser_of(api, ada) as browser:
        csrf = token(browser)
        checked = timed(
            lambda: browser.post(
                f"/workflows/{workflow_id}/validate", data={"csrf_token": csrf, "definition": text}
            )
        )
        assert checked.status_code == 200
        [issue] = checked.json()["issues"]
        assert issue["line"] == 7 and issue["message"] == f"The document has {NODES}"
        deep = timed(
            lambda: browser.post(
                f"/workflows/{workflow_id}/validate",
                data={"csrf_token": csrf, "definition": "steps: " + DEEP},
            )
        )
        assert [(i["line"], DEPTH in i["message"]) for i in deep.json()["issues"]] == [(1, True)]
        saved = timed(
            lambda: browser.post(
                f"/workflows/{workflow_id}/definition",
                data={"csrf_token": csrf, "definition": text},
            )
        )
        assert saved.status_code == 422
        assert '<li data-line="7"><button type="button" class="link goto">Line 7</button>' in (
            saved.text
        )
        assert "FLOWDECK_DOCUMENT_MAX_NODES" in saved.text
    assert stored(api) == before


def test_trigger_inputs_are_held_to_the_limits(api: Api) -> None:
    ada = api.person("ada")
    workflow_id = workflow(api, ada)
    made = api.post(f"/api/workflows/{workflow_id}/triggers", ada, json={"type": "webhook"})
    assert made.status_code == 201, made.text
    before = stored(api)
    body = '{"type": "webhook", "inputs": {"payload": ' + DEEP + "}}"
    created = timed(
        lambda: api.post(f"/api/workflows/{workflow_id}/triggers", ada, **json_body(body))
    )
    refused(created, DEPTH)
    patched = timed(
        lambda: api.client.patch(
            f"/api/triggers/{made.json()['id']}",
            content='{"inputs": {"payload": ' + DEEP + "}}",
            headers={**ada.headers, "Content-Type": "application/json"},
        )
    )
    refused(patched, DEPTH)
    assert stored(api) == before


def test_execution_inputs_and_signals_are_held_to_the_limits(api: Api) -> None:
    ada = api.person("ada")
    workflow_id = workflow(api, ada)
    waiting = api.post(f"/api/workflows/{workflow_id}/executions", ada, json={})
    assert waiting.status_code == 201, waiting.text  # queued: no worker in this app
    before = stored(api)
    inputs = '{"inputs": {"payload": ' + DEEP + "}}"
    template_id = api.get("/api/templates", ada).json()["items"][0]["id"]
    for path in (
        f"/api/workflows/{workflow_id}/executions",
        f"/api/templates/{template_id}/executions",
    ):
        refused(timed(functools.partial(api.post, path, ada, **json_body(inputs))), DEPTH)
    signal = f"/api/executions/{waiting.json()['id']}/signals/approval"
    refused(timed(lambda: api.post(signal, ada, **json_body(DEEP))), DEPTH)
    assert stored(api) == before
    kept = api.post(signal, ada, json={"approved": True})
    assert kept.status_code == 202, kept.text


def test_a_webhook_body_is_held_to_the_limits(api: Api) -> None:
    ada = api.person("ada")
    workflow_id = workflow(api, ada, HOOKED)
    made = api.post(
        f"/api/workflows/{workflow_id}/triggers", ada, json={"type": "webhook", "signed": False}
    )
    assert made.status_code == 201, made.text
    before = stored(api)
    answer = timed(lambda: api.post(made.json()["url"], **json_body('{"a": ' + DEEP + "}")))
    refused(answer, "The request body is", DEPTH)
    assert stored(api) == before
    fine = api.post(made.json()["url"], json={"event": "push"})
    assert fine.status_code == 202, fine.text


def test_a_json_box_of_the_run_form_is_held_to_the_limits(api: Api) -> None:
    ada = api.person("ada")
    workflow_id = workflow(api, ada)
    before = stored(api)
    with browser_of(api, ada) as browser:
        form = {"csrf_token": token(browser), "run_key": "k1", "input.payload": DEEP}
        answer = timed(lambda: browser.post(f"/workflows/{workflow_id}/run", data=form))
    assert answer.status_code == 422
    assert f"inputs.payload: The value is {DEPTH}" in answer.text
    assert stored(api) == before


@pytest.fixture
def strict(db_url: str, tmp_path: Path) -> Iterator[Api]:
    """The API with small document limits set in its settings."""
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path,
        document_max_nodes=50,
        document_max_depth=8,
        document_max_expanded_bytes=4096,
    )
    with (
        running_server(create_app(settings, database_url=db_url)) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        yield Api(client, db_url)


def test_the_limits_are_the_settings(strict: Api) -> None:
    ada = strict.person("ada")
    before = stored(strict)
    many = {
        "name": "many",
        "definition": {"steps": [], "goal": "x", "outputs": {"n": list(range(60))}},
    }
    refused(
        strict.post("/api/workflows", ada, json=many),
        "The request body has more than 50 nodes (FLOWDECK_DOCUMENT_MAX_NODES).",
    )
    text = {"name": "text", "definition": {"steps": [], "goal": "x" * 5000}}
    refused(strict.post("/api/workflows", ada, json=text), "4096 bytes of text")
    deep = "name: deep\ndefinition:\n  steps: []\n  outputs: {a: [[[[[[[1]]]]]]]}\n"
    answer = strict.post(
        "/api/workflows/import", ada, content=deep, headers={"Content-Type": "application/yaml"}
    )
    refused(answer, "more than 8 levels deep (FLOWDECK_DOCUMENT_MAX_DEPTH) at line 4.")
    assert stored(strict) == before

"""My workflows through HTTP: create, validate, list, change, copy, export, import, delete."""

from __future__ import annotations

from typing import Any

import yaml

from tests.api.conftest import BODY_LIMIT, Api, Person, error_of

DEFINITION: dict[str, Any] = {
    "inputs": {
        "url": {"type": "string", "description": "Page to check"},
        "threshold_ms": {"type": "integer", "default": 2000},
    },
    "steps": [
        {"id": "fetch", "type": "http", "with": {"url": "{{ inputs.url }}"}},
        {
            "id": "report",
            "type": "log",
            "when": "{{ steps.fetch.elapsed_ms > inputs.threshold_ms }}",
            "with": {"message": "slow: {{ steps.fetch.elapsed_ms }} ms"},
        },
    ],
    "outputs": {"status": "{{ steps.fetch.output.status }}"},
}


def _create(api: Api, who: Person, name: str = "Check my site", **extra: Any) -> dict[str, Any]:
    response = api.post(
        "/api/workflows", who, json={"name": name, "definition": DEFINITION, **extra}
    )
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


def test_create_from_scratch_and_read_back(api: Api) -> None:
    ada = api.person("ada")
    created = _create(api, ada, category="monitoring", config={"url": "https://example.com"})
    assert created["definition"] == DEFINITION
    assert created["config"] == {"url": "https://example.com"}
    assert (created["template_id"], created["execution_count"], created["is_favorite"]) == (
        None,
        0,
        False,
    )
    fetched = api.get(f"/api/workflows/{created['id']}", ada).json()
    assert fetched == created


def test_every_definition_problem_is_reported_with_its_path(api: Api) -> None:
    ada = api.person("ada")
    broken = {
        "steps": [
            {"id": "fetch", "type": "http", "with": {}},
            {"id": "fetch", "type": "log", "with": {"message": "{{ steps.later.output }}"}},
            {"id": "later", "type": "nope"},
        ]
    }
    response = api.post("/api/workflows", ada, json={"name": "Broken", "definition": broken})
    assert response.status_code == 422
    error = error_of(response)
    paths = {d["path"] for d in error["details"]}
    assert "definition.steps[0].with.url" in paths
    assert "definition.steps[1].id" in paths
    assert "definition.steps[2].type" in paths
    assert any(p.startswith("definition.steps[1].with.message") for p in paths)
    assert len(error["details"]) >= 4
    assert api.get("/api/workflows", ada).json()["items"] == []  # nothing half-written


def test_config_is_checked_against_the_declared_inputs(api: Api) -> None:
    ada = api.person("ada")
    response = api.post(
        "/api/workflows",
        ada,
        json={"name": "x", "definition": DEFINITION, "config": {"threshold_ms": "soon", "nope": 1}},
    )
    assert response.status_code == 422
    paths = {d["path"] for d in error_of(response)["details"]}
    assert paths == {"config.threshold_ms", "config.nope"}
    coerced = _create(api, ada, config={"threshold_ms": "1500"})
    assert coerced["config"] == {"threshold_ms": 1500}


def test_create_from_a_template_copies_it_and_counts_the_use(api: Api) -> None:
    ada = api.person("ada")
    before = api.get("/api/templates/website-uptime-check", ada).json()
    response = api.post(
        "/api/templates/website-uptime-check/workflows", ada, json={"name": "My uptime"}
    )
    assert response.status_code == 201, response.json()
    workflow = response.json()
    assert workflow["template_id"] == "website-uptime-check"
    assert workflow["name"] == "My uptime"
    assert workflow["description"] == before["goal"]
    assert workflow["category"] == before["category"]
    for part in ("steps", "inputs", "goal"):
        assert workflow["definition"][part] == before[part]
    after = api.get("/api/templates/website-uptime-check", ada).json()
    assert after["usage_count"] == before["usage_count"] + 1


def test_a_bad_config_for_a_template_counts_nothing(api: Api) -> None:
    ada = api.person("ada")
    template = api.get("/api/templates/website-uptime-check", ada).json()
    response = api.post(
        "/api/templates/website-uptime-check/workflows", ada, json={"config": {"no_such_input": 1}}
    )
    assert response.status_code == 422
    assert [d["path"] for d in error_of(response)["details"]] == ["config.no_such_input"]
    again = api.get("/api/templates/website-uptime-check", ada).json()
    assert again["usage_count"] == template["usage_count"]


def test_an_inactive_template_cannot_be_used(api: Api) -> None:
    ada = api.person("ada")
    api.sql("UPDATE workflow_templates SET is_active = false WHERE id = 'fan-out-requests'")
    response = api.post("/api/templates/fan-out-requests/workflows", ada, json={})
    assert response.status_code == 409
    assert error_of(response)["code"] == "template_inactive"
    missing = api.post("/api/templates/nope/workflows", ada, json={})
    assert missing.status_code == 404


def test_update_validates_and_moves_updated_at(api: Api) -> None:
    ada = api.person("ada")
    created = _create(api, ada)
    patched = api.patch(
        f"/api/workflows/{created['id']}", ada, json={"name": "Renamed", "is_favorite": True}
    )
    assert patched.status_code == 200
    body = patched.json()
    assert (body["name"], body["is_favorite"], body["definition"]) == ("Renamed", True, DEFINITION)
    assert body["updated_at"] > created["updated_at"]
    bad = api.patch(
        f"/api/workflows/{created['id']}",
        ada,
        json={"definition": {"steps": [{"id": "x", "type": "fail", "with": {}}]}},
    )
    assert bad.status_code == 422
    assert [d["path"] for d in error_of(bad)["details"]] == ["definition.steps[0].with.message"]
    null_name = api.patch(f"/api/workflows/{created['id']}", ada, json={"name": None})
    assert null_name.status_code == 422
    assert api.get(f"/api/workflows/{created['id']}", ada).json()["name"] == "Renamed"


def test_delete_takes_the_executions_with_it(api: Api) -> None:
    ada = api.person("ada")
    created = _create(api, ada)
    api.sql(
        "INSERT INTO workflow_executions (user_id, user_workflow_id, status) "
        "VALUES (%s, %s, 'succeeded')",
        ada.id,
        created["id"],
    )
    assert api.delete(f"/api/workflows/{created['id']}", ada).status_code == 204
    assert api.get(f"/api/workflows/{created['id']}", ada).status_code == 404
    left = api.sql("SELECT count(*) AS n FROM workflow_executions WHERE user_id = %s", ada.id)
    assert left == [{"n": 0}]
    assert api.delete(f"/api/workflows/{created['id']}", ada).status_code == 404


def test_duplicate_makes_a_fresh_copy(api: Api) -> None:
    ada = api.person("ada")
    original = _create(api, ada, is_favorite=True, config={"url": "https://example.com"})
    response = api.post(f"/api/workflows/{original['id']}/duplicate", ada)
    assert response.status_code == 201
    copy = response.json()
    assert copy["id"] != original["id"]
    assert copy["name"] == "Check my site (copy)"
    assert (copy["definition"], copy["config"]) == (original["definition"], original["config"])
    assert (copy["is_favorite"], copy["execution_count"], copy["last_used"]) == (False, 0, None)


def test_export_and_import_round_trip_in_yaml_and_json(api: Api) -> None:
    ada = api.person("ada")
    original = _create(
        api, ada, description="Mine", category="monitoring", config={"url": "https://x.example"}
    )
    for fmt, media in (("yaml", "application/yaml"), ("json", "application/json")):
        exported = api.get(f"/api/workflows/{original['id']}/export", ada, params={"format": fmt})
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith(media)
        assert f'filename="check-my-site.{fmt}"' in exported.headers["content-disposition"]
        document = yaml.safe_load(exported.text)
        assert document["kind"] == "flowdeck/workflow"
        assert "id" not in document and "user_id" not in document
        imported = api.post(
            "/api/workflows/import", ada, content=exported.text, headers={"Content-Type": media}
        )
        assert imported.status_code == 201, imported.json()
        copy = imported.json()
        for key in ("name", "description", "category", "definition", "config"):
            assert copy[key] == original[key]


def test_import_reports_where_a_document_is_malformed(api: Api) -> None:
    ada = api.person("ada")
    bad_yaml = "name: x\ndefinition:\n  steps: [\n"
    response = api.post(
        "/api/workflows/import", ada, content=bad_yaml, headers={"Content-Type": "application/yaml"}
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "malformed_document"
    assert "line 4" in error["message"]
    bad_json = '{"name": "x",\n "definition": {,}}'
    response = api.post(
        "/api/workflows/import", ada, content=bad_json, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "line 2, column 17" in error_of(response)["message"]
    invalid = api.post(
        "/api/workflows/import",
        ada,
        content="name: x\ndefinition:\n  steps:\n    - {id: a, type: log}\n",
        headers={"Content-Type": "application/yaml"},
    )
    assert invalid.status_code == 422
    assert [d["path"] for d in error_of(invalid)["details"]] == ["definition.steps[0].with"]


def test_import_refuses_yaml_values_json_cannot_hold_at_their_path(api: Api) -> None:
    ada = api.person("ada")
    for value, what in (
        ("2024-01-01", "date is not a JSON value"),
        (".inf", "inf is not a JSON number"),
    ):
        document = (
            f"name: x\ndefinition:\n  steps:\n    - {{id: a, type: set, with: {{d: {value}}}}}\n"
        )
        response = api.post(
            "/api/workflows/import",
            ada,
            content=document,
            headers={"Content-Type": "application/yaml"},
        )
        assert response.status_code == 400, response.text
        message = error_of(response)["message"]
        assert "definition.steps[0].with.d" in message
        assert what in message
    assert api.get("/api/workflows", ada).json()["items"] == []


def test_malformed_json_body_is_400_with_line_and_column(api: Api) -> None:
    ada = api.person("ada")
    response = api.post(
        "/api/workflows",
        ada,
        content='{"name": "x",\n  "definition": }',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "malformed_json"
    assert "line 2, column 17" in error["message"]


def test_a_body_over_the_limit_is_413(api: Api) -> None:
    ada = api.person("ada")
    huge = {"name": "x", "description": "a" * (BODY_LIMIT + 10), "definition": DEFINITION}
    response = api.post("/api/workflows", ada, json=huge)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"

    def chunks() -> Any:  # no Content-Length: the limit is counted as the body streams
        yield b'{"name": "x", "description": "'
        for _ in range(BODY_LIMIT // 1024 + 2):
            yield b"a" * 1024
        yield b'", "definition": {}}'

    streamed = api.post(
        "/api/workflows", ada, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert api.get("/api/workflows", ada).json()["items"] == []


def test_a_bad_uuid_in_the_path_is_422_not_500(api: Api) -> None:
    ada = api.person("ada")
    for method in (api.get, api.patch, api.delete):
        response = method("/api/workflows/not-a-uuid", ada)
        assert response.status_code == 422
        assert error_of(response)["details"][0]["path"] == "path.workflow_id"


def test_unknown_paths_and_methods_answer_in_the_error_shape(api: Api) -> None:
    ada = api.person("ada")
    assert error_of(api.get("/api/nothing-here", ada))["code"] == "not_found"
    assert (
        error_of(api.client.put("/api/workflows", headers=ada.headers))["code"]
        == "method_not_allowed"
    )


def test_openapi_and_docs_are_served(api: Api) -> None:
    spec = api.client.get("/api/openapi.json").json()
    for path in (
        "/api/workflows",
        "/api/templates",
        "/api/tokens",
        "/api/me",
        "/api/workflows/import",
    ):
        assert path in spec["paths"]
    assert api.client.get("/api/docs").status_code == 200

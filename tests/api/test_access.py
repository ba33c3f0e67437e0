"""The access matrix: every /api route, called by nobody, by its owner, by another user and
by an admin. Another user's things are 404, indistinguishable from absent."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from tests.api.conftest import Api, Person, error_of

MINIMAL: dict[str, Any] = {"steps": [{"id": "hello", "type": "log", "with": {"message": "hi"}}]}
NEW_TEMPLATE: dict[str, Any] = {
    "id": "matrix-template",
    "name": "Matrix",
    "steps": MINIMAL["steps"],
}


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    """Ada owns a workflow and a token; Bob is another user; Root is an admin."""
    ada = api.person("ada")
    workflow = api.post("/api/workflows", ada, json={"name": "Ada's", "definition": MINIMAL}).json()
    token = api.post("/api/tokens", ada, json={"name": "spare"}).json()
    execution = api.post(f"/api/workflows/{workflow['id']}/executions", ada, json={}).json()
    api.client.put("/api/secrets/ADA_KEY", headers=ada.headers, json={"value": "ada-secret"})
    trigger = api.post(
        f"/api/workflows/{workflow['id']}/triggers",
        ada,
        json={"type": "schedule", "cron": "0 * * * *"},
    ).json()
    return {
        "secret": "ADA_KEY",
        "execution": execution["id"],
        "ada": ada,
        "bob": api.person("bob"),
        "root": api.person("root", admin=True),
        "workflow": workflow["id"],
        "token": token["id"],
        "trigger": trigger["id"],
    }


# (method, path, body): {workflow}, {token}, {trigger}... are Ada's.
OWNED: list[tuple[str, str, Any]] = [
    ("GET", "/api/workflows/{workflow}", None),
    ("PATCH", "/api/workflows/{workflow}", {"name": "Taken"}),
    ("POST", "/api/workflows/{workflow}/duplicate", None),
    ("GET", "/api/workflows/{workflow}/export", None),
    ("DELETE", "/api/workflows/{workflow}", None),
    ("DELETE", "/api/tokens/{token}", None),
    ("DELETE", "/api/secrets/{secret}", None),
    ("POST", "/api/workflows/{workflow}/executions", {"inputs": {}}),
    ("GET", "/api/executions/{execution}", None),
    ("POST", "/api/executions/{execution}/rerun", None),
    ("GET", "/api/executions/{execution}/events", None),
    ("POST", "/api/executions/{execution}/signals/approval", {"approved": True}),
    ("POST", "/api/executions/{execution}/retry", None),
    ("POST", "/api/executions/{execution}/cancel", None),
    ("GET", "/api/workflows/{workflow}/triggers", None),
    ("POST", "/api/workflows/{workflow}/triggers", {"type": "webhook"}),
    ("GET", "/api/triggers/{trigger}", None),
    ("PATCH", "/api/triggers/{trigger}", {"is_active": False}),
    ("DELETE", "/api/triggers/{trigger}", None),
]
# What the owner gets where the execution's state decides (it is queued: no worker runs).
OWNER_ANSWER = {
    "/api/executions/{execution}/retry": 409,  # only a failed or cancelled one
}
ANY_USER: list[tuple[str, str, Any]] = [
    ("GET", "/api/me", None),
    ("GET", "/api/tokens", None),
    ("POST", "/api/tokens", {"name": "new"}),
    ("GET", "/api/workflows", None),
    ("POST", "/api/workflows", {"name": "New", "definition": MINIMAL}),
    ("POST", "/api/workflows/import", {"name": "Imported", "definition": MINIMAL}),
    ("GET", "/api/templates", None),
    ("GET", "/api/templates/categories", None),
    ("GET", "/api/templates/fan-out-requests", None),
    ("POST", "/api/templates/fan-out-requests/workflows", {}),
    ("POST", "/api/auth/logout", None),
    ("GET", "/api/executions", None),
    ("GET", "/api/secrets", None),
    ("PUT", "/api/secrets/MY_KEY", {"value": "mine"}),
    (
        "POST",
        "/api/templates/paginated-export/executions",
        {"inputs": {"url": "http://127.0.0.1:9/x"}},
    ),
]
ADMIN_ONLY: list[tuple[str, str, Any]] = [
    ("POST", "/api/templates", NEW_TEMPLATE),
    ("PATCH", "/api/templates/fan-out-requests", {"name": "Renamed"}),
    ("DELETE", "/api/templates/json-api-to-webhook", None),
]
EVERY_ROUTE = OWNED + ANY_USER + ADMIN_ONLY


def _call(
    api: Api, who: Person | None, method: str, path: str, body: Any, world: dict[str, Any]
) -> Any:
    url = path.format(**world)
    headers = who.headers if who else {}
    if path.endswith("/events"):
        # The stream of a queued execution stays open: the status line is the answer.
        with api.client.stream(method, url, headers=headers) as response:
            if response.status_code >= 400:
                response.read()
            return response
    return api.client.request(method, url, headers=headers, json=body)


def test_the_matrix_covers_every_api_route(api: Api) -> None:
    spec = api.client.get("/api/openapi.json").json()
    declared = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if path.startswith("/api/") and path != "/api/auth/login"
    }
    covered = {
        (
            method,
            path.replace("{workflow}", "{workflow_id}")
            .replace("{token}", "{token_id}")
            .replace("{trigger}", "{trigger_id}")
            .replace("{execution}", "{execution_id}")
            .replace("/signals/approval", "/signals/{name}")
            .replace("{secret}", "{name}")
            .replace("/api/secrets/MY_KEY", "/api/secrets/{name}"),
        )
        for method, path, _ in EVERY_ROUTE
    }
    normalised = {
        (
            method,
            p.replace("fan-out-requests", "{template_id}")
            .replace("json-api-to-webhook", "{template_id}")
            .replace("paginated-export", "{template_id}"),
        )
        for method, p in covered
    }
    assert declared <= normalised, declared - normalised


@pytest.mark.parametrize(("method", "path", "body"), EVERY_ROUTE)
def test_anonymous_is_401_everywhere(
    api: Api, world: dict[str, Any], method: str, path: str, body: Any
) -> None:
    response = _call(api, None, method, path, body, world)
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


@pytest.mark.parametrize(("method", "path", "body"), OWNED)
def test_another_user_gets_404_exactly_as_for_a_missing_thing(
    api: Api, world: dict[str, Any], method: str, path: str, body: Any
) -> None:
    theirs = _call(api, world["bob"], method, path, body, world)
    missing = _call(
        api,
        world["bob"],
        method,
        path,
        body,
        {
            **world,
            "workflow": uuid4(),
            "token": uuid4(),
            "execution": uuid4(),
            "secret": "NOPE",
            "trigger": uuid4(),
        },
    )
    assert theirs.status_code == missing.status_code == 404
    assert error_of(theirs) == error_of(missing)
    # ... and Ada's things are untouched.
    assert api.get(f"/api/workflows/{world['workflow']}", world["ada"]).json()["name"] == "Ada's"
    assert api.client.get("/api/me", headers=world["ada"].headers).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), OWNED)
def test_the_owner_may(api: Api, world: dict[str, Any], method: str, path: str, body: Any) -> None:
    response = _call(api, world["ada"], method, path, body, world)
    if path in OWNER_ANSWER:
        assert response.status_code == OWNER_ANSWER[path], response.text
    else:
        assert response.status_code in (200, 201, 202, 204), response.text


@pytest.mark.parametrize(("method", "path", "body"), OWNED)
def test_an_admin_sees_no_other_users_things_either(
    api: Api, world: dict[str, Any], method: str, path: str, body: Any
) -> None:
    response = _call(api, world["root"], method, path, body, world)
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "path", "body"), ANY_USER)
def test_any_signed_in_user_may(
    api: Api, world: dict[str, Any], method: str, path: str, body: Any
) -> None:
    response = _call(api, world["bob"], method, path, body, world)
    assert response.status_code in (200, 201, 204), response.text


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
def test_admin_routes_are_403_for_users_and_open_to_admins(
    api: Api, world: dict[str, Any], method: str, path: str, body: Any
) -> None:
    refused = _call(api, world["bob"], method, path, body, world)
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "forbidden"
    allowed = _call(api, world["root"], method, path, body, world)
    assert allowed.status_code in (200, 201, 204), allowed.text

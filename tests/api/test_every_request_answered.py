"""Every request a client can make gets a deliberate answer, never a 500: text the
database cannot store, nulls in place of values, numbers past a column, wrong media
types, odd file names and a database that went away (issue "Every request answered")."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest

from tests.api.conftest import Api, Person, error_of

NUL = "\u0000"
SURROGATE = "\ud800"
STEP = {"id": "a", "type": "set", "with": {"v": 1}}
DEFINITION = {"steps": [STEP]}


def send(api: Api, method: str, path: str, who: Person | None, body: Any) -> httpx.Response:
    """`body` as JSON with every non-ASCII character escaped, so that a lone surrogate
    (which no UTF-8 text can hold) travels as the escape a client would send."""
    headers = {"Content-Type": "application/json", **(who.headers if who else {})}
    return api.client.request(method, path, content=json.dumps(body), headers=headers)


def assert_refused(response: httpx.Response, path: str, what: str = "NUL") -> None:
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "validation_failed"
    assert [detail["path"] for detail in error["details"]] == [path], error
    assert what in error["details"][0]["message"], error


def workflow(api: Api, who: Person, **fields: Any) -> dict[str, Any]:
    made = api.post("/api/workflows", who, json={"name": "w", "definition": DEFINITION, **fields})
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/auth/login", {"email": f"ada{NUL}@example.com", "password": "x"}, "email"),
        ("POST", "/api/workflows", {"name": f"a{NUL}b", "definition": DEFINITION}, "name"),
        (
            "POST",
            "/api/workflows",
            {"name": "a", "description": NUL, "definition": DEFINITION},
            "description",
        ),
        (
            "POST",
            "/api/workflows",
            {"name": "a", "category": f"x{NUL}", "definition": DEFINITION},
            "category",
        ),
        (
            "POST",
            "/api/workflows",
            {"name": "a", "definition": {**DEFINITION, "goal": f"g{NUL}"}},
            "definition.goal",
        ),
        (
            "POST",
            "/api/workflows",
            {"name": "a", "definition": {**DEFINITION, f"k{NUL}": 1}},
            'definition["k\\u0000"]',
        ),
        ("POST", "/api/tokens", {"name": f"t{NUL}"}, "name"),
        ("POST", "/api/workflows", {"name": f"a{SURROGATE}", "definition": DEFINITION}, "name"),
    ],
)
def test_text_the_database_cannot_store_is_422_naming_the_field(
    api: Api, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    ada = api.person("ada")
    what = "surrogate" if SURROGATE in json.dumps(body, ensure_ascii=False) else "NUL"
    before = api.sql("SELECT count(*) AS n FROM user_workflows")[0]["n"]
    assert_refused(send(api, method, path, ada, body), field, what)
    assert api.sql("SELECT count(*) AS n FROM user_workflows")[0]["n"] == before


def test_nul_in_trigger_inputs_and_signal_payloads_is_422(api: Api) -> None:
    ada = api.person("ada")
    made = workflow(api, ada)
    trigger = send(
        api,
        "POST",
        f"/api/workflows/{made['id']}/triggers",
        ada,
        {"type": "webhook", "inputs": {"note": f"x{NUL}"}},
    )
    assert_refused(trigger, "inputs.note")
    assert api.sql("SELECT count(*) AS n FROM workflow_triggers")[0]["n"] == 0
    started = api.post(f"/api/workflows/{made['id']}/executions", ada, json={})
    assert started.status_code == 201, started.text
    signal = send(
        api, "POST", f"/api/executions/{started.json()['id']}/signals/go", ada, {"k": [NUL]}
    )
    assert_refused(signal, "k[0]")


def test_nul_in_a_query_or_a_path_is_422_naming_the_parameter(api: Api) -> None:
    ada = api.person("ada")
    assert_refused(api.get("/api/templates?q=%00", ada), "query.q")
    assert_refused(api.get("/api/templates/%00", ada), "path.template_id")
    assert_refused(api.get("/api/workflows?unknown=a%00", ada), "query.unknown")


def test_a_form_field_with_nul_is_refused_on_the_pages_too(api: Api) -> None:
    answer = api.client.post(
        "/login", data={"email": f"ada{NUL}@example.com", "password": "x", "csrf_token": "x"}
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "NUL" in answer.text


def test_numbers_past_what_can_be_stored_are_422(api: Api) -> None:
    ada = api.person("ada")
    made = workflow(api, ada)
    huge = send(
        api,
        "POST",
        f"/api/workflows/{made['id']}/triggers",
        ada,
        {"type": "webhook", "rate_limit_per_minute": 2**70},
    )
    assert huge.status_code == 422, huge.text
    assert [d["path"] for d in error_of(huge)["details"]] == ["rate_limit_per_minute"]
    infinite = api.client.post(
        f"/api/workflows/{made['id']}/executions",
        content=b'{"inputs": {"n": 1e400}}',
        headers={**ada.headers, "Content-Type": "application/json"},
    )
    assert_refused(infinite, "inputs.n", "too large")


def test_null_for_a_field_that_must_have_a_value_is_refused_and_not_stored(api: Api) -> None:
    admin = api.person("root", admin=True)
    template = api.get("/api/templates", admin).json()["items"][0]["id"]
    for field in ("is_active", "name", "steps", "inputs"):
        answer = api.patch(f"/api/templates/{template}", admin, json={field: None})
        assert answer.status_code == 422, answer.text
        assert [d["path"] for d in error_of(answer)["details"]] == [field]
    assert api.sql("SELECT count(*) AS n FROM workflow_templates WHERE is_active IS NULL") == [
        {"n": 0}
    ]
    assert api.get("/api/templates?active=all", api.person("ada")).status_code == 200
    ada = api.person("ada")
    made = workflow(api, ada)
    answer = api.patch(f"/api/workflows/{made['id']}", ada, json={"is_favorite": None})
    assert answer.status_code == 422
    # A field that may be empty still takes null.
    cleared = api.patch(f"/api/workflows/{made['id']}", ada, json={"description": None})
    assert cleared.status_code == 200, cleared.text


def test_the_export_file_name_follows_rfc_6266(api: Api) -> None:
    ada = api.person("ada")
    made = workflow(api, ada, name="Übersicht 名前")
    answer = api.get(f"/api/workflows/{made['id']}/export", ada)
    assert answer.status_code == 200, answer.text
    disposition = answer.headers["content-disposition"]
    assert disposition == (
        "attachment; filename=\"_bersicht-__.yaml\"; filename*=UTF-8''"
        + quote("übersicht-名前.yaml", safe="")
    )
    plain = workflow(api, ada, name="Nightly report")
    assert (
        api.get(f"/api/workflows/{plain['id']}/export", ada).headers["content-disposition"]
        == 'attachment; filename="nightly-report.yaml"'
    )


def test_a_body_that_is_not_json_is_415(api: Api) -> None:
    ada = api.person("ada")
    made = workflow(api, ada)
    started = api.post(f"/api/workflows/{made['id']}/executions", ada, json={})
    answer = api.post(
        f"/api/executions/{started.json()['id']}/signals/go",
        ada,
        content=b"hello",
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 415, answer.text
    assert error_of(answer)["code"] == "unsupported_media_type"
    form = api.post("/api/workflows", ada, data={"name": "w"})
    assert form.status_code == 415


def test_template_timestamps_carry_their_offset(api: Api) -> None:
    items = api.get("/api/templates", api.person("ada")).json()["items"]
    for item in items:
        for field in ("created_at", "updated_at"):
            assert datetime.fromisoformat(item[field]).utcoffset() is not None, item[field]


def test_a_connection_lost_mid_request_is_503_with_retry_after_logged_once(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    ada = api.person("ada")
    api.get("/api/me", ada)  # the pool has its connections
    holder = httpx.Client(base_url=str(api.client.base_url), timeout=30)
    answers: list[httpx.Response] = []
    locked = threading.Event()

    def blocked_request() -> None:
        locked.wait()
        answers.append(holder.get("/api/me", headers=ada.headers))

    # The token lookup waits on a lock this test holds; its backend is then terminated,
    # as a restarting or failing-over server would, in the middle of the request.
    with psycopg.connect(api.db_url, autocommit=True) as lock_conn:
        lock_conn.execute("BEGIN")
        lock_conn.execute("LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE")
        caller = threading.Thread(target=blocked_request)
        caller.start()
        locked.set()
        with psycopg.connect(api.db_url, autocommit=True) as watcher:
            waiting: list[Any] = []
            deadline = time.monotonic() + 30
            while not waiting:  # an event in the database: a backend waits on the lock
                assert time.monotonic() < deadline, "the request never waited on the lock"
                waiting = watcher.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                ).fetchall()
            with caplog.at_level(logging.INFO):
                watcher.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))
                caller.join(timeout=30)
        lock_conn.execute("ROLLBACK")
    holder.close()
    (answer,) = answers
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "2"
    assert error_of(answer)["code"] == "database_unavailable"
    lost = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(lost) == 1, [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # The next request gets a fresh connection.
    assert api.get("/api/me", ada).status_code == 200


def test_an_imported_yaml_document_with_a_nul_escape_is_422(api: Api) -> None:
    ada = api.person("ada")
    document = 'kind: flowdeck/workflow\nversion: 1\nname: "a\\0b"\ndefinition:\n  steps: []\n'
    answer = api.post(
        "/api/workflows/import",
        ada,
        content=document.encode(),
        headers={"Content-Type": "application/yaml"},
    )
    assert_refused(answer, "name")
    assert api.sql("SELECT count(*) AS n FROM user_workflows") == [{"n": 0}]


def test_every_operation_declares_its_errors_with_the_one_shape(api: Api) -> None:
    document = api.get("/api/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    operations = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) > 30
    for method, path, operation in operations:
        responses = operation["responses"]
        expected = {"422", "503"}
        if path.startswith("/api/") and path not in ("/api/auth/login",):
            expected |= {"401"}
        if "{" in path:
            expected.add("404")
        if "requestBody" in operation:
            expected |= {"400", "413", "415"}
        assert expected <= set(responses), (method, path, sorted(responses))
        for status in expected:
            content = responses[status]["content"]["application/json"]["schema"]
            assert content == error_ref, (method, path, status)

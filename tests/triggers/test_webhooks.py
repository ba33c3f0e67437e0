"""Webhooks: POST /hooks/{token} starts the trigger's workflow; signed triggers check the
HMAC signature, its age and the delivery id; every trigger has a per-minute limit."""

from __future__ import annotations

import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flowdeck.config import Settings
from flowdeck.services.webhooks import sign
from flowdeck.users import credentials
from flowdeck.vault.box import SecretBox, load_key_material
from tests.api.conftest import Api, Person, error_of
from tests.engine.conftest import engine as engine

SECRET = "whsec-test-5e4d3c2b1a"

DEFINITION: dict[str, Any] = {
    "inputs": {
        "body": {"type": "object", "required": False},
        "headers": {"type": "object", "required": False},
        "query": {"type": "object", "required": False},
        "team": {"type": "string", "default": "none"},
    },
    "steps": [{"id": "echo", "type": "set", "with": {"event": "{{ inputs.body.event }}"}}],
    "outputs": {
        "event": "{{ steps.echo.output.event }}",
        "source": "{{ inputs.query.source }}",
        "custom": "{{ inputs.headers['x-custom'] }}",
        "team": "{{ inputs.team }}",
    },
}


def _workflow(api: Api, who: Person, definition: dict[str, Any] | None = None) -> str:
    created = api.post(
        "/api/workflows", who, json={"name": "hooked", "definition": definition or DEFINITION}
    )
    assert created.status_code == 201, created.json()
    workflow_id: str = created.json()["id"]
    return workflow_id


def _trigger(
    api: Api,
    tmp_path: Path,
    *,
    secret: str | None = SECRET,
    rate_limit: int = 60,
    inputs: dict[str, Any] | None = None,
    definition: dict[str, Any] | None = None,
) -> str:
    """A webhook trigger on a new workflow of ada's; returns its URL token."""
    ada = api.person("ada")
    workflow_id = _workflow(api, ada, definition)
    token = secrets.token_urlsafe(24)
    # The engine fixture's app reads its key from tmp_path: seal with the same key.
    box = SecretBox(load_key_material(None, Settings(data_dir=tmp_path).data_dir))
    api.sql(
        "INSERT INTO workflow_triggers (user_workflow_id, user_id, type, token_hash, "
        "signing_secret_encrypted, rate_limit_per_minute, inputs) "
        "VALUES (%s, %s, 'webhook', %s, %s, %s, %s::jsonb)",
        workflow_id,
        ada.id,
        credentials.digest(token),
        box.seal(secret) if secret is not None else None,
        rate_limit,
        json.dumps(inputs or {}),
    )
    return token


def _signed(
    body: bytes,
    *,
    secret: str = SECRET,
    at: int | None = None,
    delivery: str | None = "d-1",
) -> dict[str, str]:
    t = int(time.time()) if at is None else at
    headers = {
        "Content-Type": "application/json",
        "X-Flowdeck-Signature": f"t={t},v1={sign(secret, t, body)}",
    }
    if delivery is not None:
        headers["X-Flowdeck-Delivery"] = delivery
    return headers


def _executions(api: Api) -> int:
    return int(api.sql("SELECT count(*) AS n FROM workflow_executions")[0]["n"])


def test_a_signed_call_starts_the_workflow_with_body_headers_and_query(
    engine: Api, tmp_path: Path
) -> None:
    token = _trigger(engine, tmp_path, inputs={"team": "ops"})
    body = json.dumps({"event": "push"}).encode()
    headers = {**_signed(body), "X-Custom": "yes", "Cookie": "c=1", "Authorization": "Bearer x"}
    started = engine.client.post(
        f"/hooks/{token}", content=body, headers=headers, params={"source": "ci"}
    )
    assert started.status_code == 202, started.json()
    assert set(started.json()) == {"execution_id", "status"}
    rows = engine.sql(
        "SELECT trigger, input FROM workflow_executions WHERE id = %s",
        started.json()["execution_id"],
    )
    assert rows[0]["trigger"] == "webhook"
    given = rows[0]["input"]
    assert given["body"] == {"event": "push"}
    assert given["query"] == {"source": "ci"}
    assert given["headers"]["x-custom"] == "yes"
    assert "cookie" not in given["headers"] and "authorization" not in given["headers"]
    assert given["team"] == "ops"  # the trigger's stored inputs

    body = json.dumps({"event": "tag"}).encode()
    waited = engine.client.post(
        f"/hooks/{token}",
        content=body,
        headers={**_signed(body, delivery="d-2"), "X-Custom": "again"},
        params={"wait": 30, "source": "cli"},
    )
    assert waited.status_code == 200, waited.json()
    result = waited.json()
    assert set(result) == {"execution_id", "status", "outputs", "error"}
    assert result["status"] == "succeeded", result
    assert result["outputs"] == {"event": "tag", "source": "cli", "custom": "again", "team": "ops"}
    assert result["error"] is None


def test_an_unsigned_trigger_needs_no_signature_and_passes_only_declared_inputs(
    engine: Api, tmp_path: Path
) -> None:
    plain = {"inputs": {"body": {"type": "string"}}, "outputs": {"got": "{{ inputs.body }}"}}
    token = _trigger(engine, tmp_path, secret=None, definition=plain)
    called = engine.client.post(
        f"/hooks/{token}", content=b"not json", params={"wait": 30, "x": "1"}
    )
    assert called.status_code == 200, called.json()
    assert called.json()["status"] == "succeeded"
    assert called.json()["outputs"] == {"got": "not json"}
    again = engine.client.post(f"/hooks/{token}", content=b"again")
    assert again.status_code == 202
    assert _executions(engine) == 2


def test_bad_stale_missing_and_replayed_signatures_are_refused(engine: Api, tmp_path: Path) -> None:
    token = _trigger(engine, tmp_path)
    body = b'{"event": "push"}'
    cases = {
        "wrong": _signed(body, secret="not-the-secret"),
        "older than 5 minutes": _signed(body, at=int(time.time()) - 400),
        "future": _signed(body, at=int(time.time()) + 400),
        "missing": {"Content-Type": "application/json"},
        "malformed": {"X-Flowdeck-Signature": "sha256=abc"},
    }
    for word, headers in cases.items():
        refused = engine.client.post(f"/hooks/{token}", content=body, headers=headers)
        assert refused.status_code == 401, (word, refused.json())
        error = error_of(refused)
        assert error["code"] == "bad_signature"
        assert word in error["message"], (word, error["message"])
    assert _executions(engine) == 0

    first = engine.client.post(f"/hooks/{token}", content=body, headers=_signed(body))
    assert first.status_code == 202
    replayed = engine.client.post(f"/hooks/{token}", content=body, headers=_signed(body))
    assert replayed.status_code == 401
    assert error_of(replayed)["code"] == "replayed_delivery"
    # Without a delivery id the signature itself is the id: the same request twice is refused.
    headers = _signed(body, delivery=None)
    assert engine.client.post(f"/hooks/{token}", content=body, headers=headers).status_code == 202
    again = engine.client.post(f"/hooks/{token}", content=body, headers=headers)
    assert error_of(again)["code"] == "replayed_delivery"
    assert _executions(engine) == 2


def test_an_unknown_or_inactive_token_is_a_404(engine: Api, tmp_path: Path) -> None:
    unknown = engine.client.post("/hooks/no-such-token", json={})
    assert unknown.status_code == 404
    assert error_of(unknown)["code"] == "not_found"
    token = _trigger(engine, tmp_path, secret=None)
    engine.sql("UPDATE workflow_triggers SET is_active = false")
    inactive = engine.client.post(f"/hooks/{token}", json={})
    assert inactive.status_code == 404
    assert error_of(inactive) == error_of(unknown)
    assert _executions(engine) == 0


def test_the_rate_limit_answers_429_with_retry_after(engine: Api, tmp_path: Path) -> None:
    token = _trigger(engine, tmp_path, secret=None, rate_limit=3)
    for _ in range(3):
        assert engine.client.post(f"/hooks/{token}", json={}).status_code == 202
    limited = engine.client.post(f"/hooks/{token}", json={})
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "too_many_requests"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert _executions(engine) == 3
    # Calls older than a minute no longer count.
    engine.sql("UPDATE webhook_deliveries SET received_at = received_at - interval '61 seconds'")
    assert engine.client.post(f"/hooks/{token}", json={}).status_code == 202


def test_concurrent_calls_do_not_exceed_the_rate_limit(engine: Api, tmp_path: Path) -> None:
    token = _trigger(engine, tmp_path, secret=None, rate_limit=3)

    def call(_: int) -> int:
        status: int = engine.client.post(f"/hooks/{token}", json={}).status_code
        return status

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(call, range(8)))
    assert statuses == [202] * 3 + [429] * 5
    assert _executions(engine) == 3


def test_a_body_over_the_limit_is_a_413(engine: Api, tmp_path: Path) -> None:
    token = _trigger(engine, tmp_path, secret=None)
    limit = Settings().max_body_bytes
    too_big = engine.client.post(f"/hooks/{token}", content=b"x" * (limit + 1))
    assert too_big.status_code == 413
    assert error_of(too_big)["code"] == "payload_too_large"
    assert _executions(engine) == 0

"""Secrets: stored encrypted, usable as {{ secrets.NAME }}, and found nowhere in clear
text: not in API answers, step outputs, logs, errors, the event stream, or any table."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.api.conftest import Api, error_of
from tests.engine.conftest import Target, run, steps_of

VALUE = "sk-live-9f8e7d6c5b4a"


def _dump(api: Api) -> str:
    """Every row of every table of the test database, as text."""
    tables = api.sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )
    text: list[str] = []
    for table in tables:
        name = table["tablename"]
        rows = api.sql(f'SELECT t::text AS row FROM "{name}" t')  # noqa: S608 (catalog names)
        text.extend(row["row"] for row in rows)
    return "\n".join(text)


def test_the_secrets_api_lists_names_never_values(engine: Api) -> None:
    ada, bob = engine.person("ada"), engine.person("bob")
    created = engine.client.put("/api/secrets/API_KEY", headers=ada.headers, json={"value": VALUE})
    assert created.status_code == 201
    assert VALUE not in created.text
    replaced = engine.client.put(
        "/api/secrets/API_KEY", headers=ada.headers, json={"value": VALUE + "x"}
    )
    assert replaced.status_code == 200
    engine.client.put("/api/secrets/API_KEY", headers=ada.headers, json={"value": VALUE})
    listed = engine.get("/api/secrets", ada)
    assert [s["name"] for s in listed.json()] == ["API_KEY"]
    assert VALUE not in listed.text
    assert engine.get("/api/secrets", bob).json() == []
    assert engine.delete("/api/secrets/API_KEY", bob).status_code == 404
    bad = engine.client.put("/api/secrets/not-a-name", headers=ada.headers, json={"value": "x"})
    assert bad.status_code == 422
    assert error_of(bad)["details"][0]["path"] == "path.name"
    stored = engine.sql("SELECT value_encrypted FROM secrets")
    assert stored and VALUE not in stored[0]["value_encrypted"]


def test_a_secret_is_used_by_a_step_and_masked_everywhere(
    engine: Api, target: Target, tmp_path: Path
) -> None:
    ada = engine.person("ada")
    engine.client.put("/api/secrets/API_KEY", headers=ada.headers, json={"value": VALUE})
    execution = run(
        engine,
        ada,
        {
            "steps": [
                {
                    "id": "call",
                    "type": "http",
                    "with": {
                        "url": f"{target.url}/echo",
                        "headers": {"Authorization": "Bearer {{ secrets.API_KEY }}"},
                    },
                },
                {"id": "say", "type": "log", "with": {"message": "key is {{ secrets.API_KEY }}"}},
                {"id": "keep", "type": "set", "with": {"copy": "{{ secrets.API_KEY }}"}},
                {
                    "id": "boom",
                    "type": "fail",
                    "with": {"message": "failed with {{ secrets.API_KEY }}"},
                },
            ],
            "outputs": {"leak": "{{ secrets.API_KEY }}"},
        },
    )
    # The server really received the secret...
    sent = next(r for r in target.requests if r["path"] == "/echo")
    assert sent["headers"]["Authorization"] == f"Bearer {VALUE}"
    # ...and Flowdeck shows and stores only the mask.
    assert execution["status"] == "failed"
    steps = steps_of(execution)
    assert steps["call"]["output"]["body"]["headers"]["Authorization"] == "Bearer ***"
    assert steps["say"]["output"]["message"] == "key is ***"
    assert steps["say"]["logs"][0]["message"] == "key is ***"
    assert steps["keep"]["output"] == {"copy": "***"}
    assert execution["error"]["message"] == "failed with ***"
    fetched = engine.get(f"/api/executions/{execution['id']}", ada)
    assert VALUE not in fetched.text
    with engine.client.stream(
        "GET", f"/api/executions/{execution['id']}/events", headers=ada.headers
    ) as stream:
        events = "".join(stream.iter_text())
    assert "event: status" in events and VALUE not in events
    listed = engine.get("/api/executions", ada)
    assert VALUE not in listed.text
    assert VALUE not in _dump(engine), "a secret's value is stored in clear text"
    key_file = tmp_path / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert VALUE not in key_file.read_text()


def test_an_undefined_secret_fails_the_step_by_name(engine: Api) -> None:
    ada = engine.person("ada")
    execution = run(
        engine,
        ada,
        {"steps": [{"id": "use", "type": "set", "with": {"k": "{{ secrets.MISSING }}"}}]},
    )
    assert execution["status"] == "failed"
    assert "MISSING" in execution["error"]["message"]

"""`flowdeck` as a person runs it: a separate process, its exit codes and its messages
(one line on stderr, never a stack trace)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.conftest import Api, Person
from tests.helpers import run_flowdeck

BREAKER = {"steps": [{"id": "boom", "type": "fail", "with": {"message": "it broke"}}]}


def test_exit_codes_and_messages(
    engine: Api, ada: Person, env: dict[str, str], tmp_path: Path
) -> None:
    made = engine.post("/api/workflows", ada, json={"name": "Breaker", "definition": BREAKER})
    assert made.status_code == 201, made.text
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad\ndefinition:\n  steps:\n    - {id: a, type: http, with: {}}\n")

    listed = run_flowdeck("templates", "list", "--json", env=env)
    failed = run_flowdeck("run", "Breaker", "--wait", env=env)
    bad_token = run_flowdeck("workflows", "list", env={**env, "FLOWDECK_TOKEN": "fd_wrong"})
    unknown = run_flowdeck("workflows", "show", "Nope", env=env)
    invalid = run_flowdeck("workflows", "import", str(bad), env=env)
    usage = run_flowdeck("executions", "frobnicate", env=env)
    unreachable = run_flowdeck(
        "workflows", "list", env={**env, "FLOWDECK_URL": "http://127.0.0.1:9"}
    )

    assert listed.returncode == 0 and "website-uptime-check" in {
        t["id"] for t in json.loads(listed.stdout)["items"]
    }
    assert failed.returncode == 3, failed.stdout + failed.stderr
    assert "✗ boom (fail) failed" in failed.stdout and "it broke" in failed.stderr
    assert bad_token.returncode == 1
    assert bad_token.stderr.startswith("error: The token is not valid")
    assert unknown.returncode == 1
    assert "No workflow of yours has the id or name 'Nope'." in unknown.stderr
    assert invalid.returncode == 1 and "definition.steps[0].with" in invalid.stderr
    assert usage.returncode == 2 and "No such command" in usage.stderr
    assert unreachable.returncode == 1
    assert "cannot reach Flowdeck at http://127.0.0.1:9" in unreachable.stderr
    for result in (failed, bad_token, unknown, invalid, usage, unreachable):
        assert "Traceback" not in result.stdout + result.stderr
        assert result.stdout.strip() == "" or result is failed  # errors never go to stdout


def test_no_token_anywhere_says_how_to_get_one(tmp_path: Path) -> None:
    from tests.helpers import flowdeck_env

    env = flowdeck_env(url="http://127.0.0.1:9", config=tmp_path / "none.toml")
    result = run_flowdeck("executions", "list", env=env)
    assert result.returncode == 1
    assert "flowdeck login" in result.stderr and "FLOWDECK_TOKEN" in result.stderr

"""`flowdeck run` as a person uses it: against a running server, steps shown live."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.helpers import ServeProcess, flowdeck_env, run_flowdeck

FIRST_START = re.compile(r"API token: (fd_[\w-]+)")


def test_run_with_wait_shows_each_step_and_sets_the_exit_code(
    empty_db_url: str, tmp_path: Path
) -> None:
    server = ServeProcess(flowdeck_env(database_url=empty_db_url))
    try:
        found = FIRST_START.search(server.text)
        assert found, server.text
        token = found.group(1)
        headers = {"Authorization": f"Bearer {token}"}
        for name, steps in (
            (
                "Greeter",
                [
                    {"id": "greet", "type": "set", "with": {"text": "hello {{ inputs.who }}"}},
                    {
                        "id": "say",
                        "type": "log",
                        "with": {"message": "{{ steps.greet.output.text }}"},
                    },
                ],
            ),
            ("Breaker", [{"id": "boom", "type": "fail", "with": {"message": "it broke"}}]),
        ):
            definition = {
                "inputs": {"who": {"type": "string", "default": "you"}},
                "steps": steps,
                "outputs": {"n": 1},
            }
            made = httpx.post(
                f"{server.base_url}/api/workflows",
                headers=headers,
                json={"name": name, "definition": definition},
                timeout=10,
            )
            assert made.status_code == 201, made.text
        no_config = tmp_path / "config.toml"  # never the config of whoever runs the tests
        env = flowdeck_env(url=server.base_url, token=token, config=no_config)
        ok = run_flowdeck("run", "Greeter", "-i", "who=Ada", "--wait", env=env)
        broken = run_flowdeck("run", "Breaker", "--wait", env=env)
        quick = run_flowdeck("run", "Greeter", env=env)
        missing = run_flowdeck("run", "Nope", env=env)
        no_token = run_flowdeck(
            "run", "Greeter", env=flowdeck_env(url=server.base_url, config=no_config)
        )
    finally:
        server.stop()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "✓ greet (set) succeeded" in ok.stdout
    assert "✓ say (log) succeeded" in ok.stdout
    assert 'succeeded outputs: {"n": 1}' in ok.stdout
    assert broken.returncode == 3, broken.stdout + broken.stderr
    assert "✗ boom (fail) failed" in broken.stdout and "it broke" in broken.stdout
    assert quick.returncode == 0 and "Execution " in quick.stdout
    assert missing.returncode == 1
    assert "No workflow of yours has the id or name 'Nope'." in missing.stderr
    assert no_token.returncode == 1 and "FLOWDECK_TOKEN" in no_token.stderr
    for result in (ok, broken, missing, no_token):
        assert "Traceback" not in result.stdout + result.stderr


def test_run_reports_an_unreachable_server() -> None:
    env = flowdeck_env(url="http://127.0.0.1:9", token="fd_x", config="/nonexistent/config.toml")
    result = run_flowdeck("run", "Greeter", env=env)
    assert result.returncode == 1
    assert "cannot reach Flowdeck at http://127.0.0.1:9" in result.stderr

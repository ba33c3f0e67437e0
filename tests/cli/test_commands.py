"""Every client command in process (CliRunner) against a real server: what it prints,
what it changes, and its exit code."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowdeck.client import FlowdeckApiError
from tests.api.conftest import Api, Person
from tests.cli.conftest import Cli
from tests.engine.conftest import Target

UPTIME = "website-uptime-check"


def _json(output: str) -> Any:
    return json.loads(output)


def _create(cli: Cli, target: Target, name: str, path: str = "/ok") -> str:
    made = cli(
        "workflows", "create", "--from-template", UPTIME, "--name", name,
        "-c", f'urls=["{target.url}{path}"]', "-c", "fail_when_down=true", "--json",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    workflow_id = _json(made.stdout)["id"]
    assert isinstance(workflow_id, str)
    return workflow_id


def test_templates_list_and_show(cli: Cli) -> None:
    listed = cli("templates", "list", "--json", "--all")
    assert listed.exit_code == 0, listed.output
    ids = [item["id"] for item in _json(listed.stdout)["items"]]
    assert UPTIME in ids and len(ids) > 10
    table = cli("templates", "list", "-q", "uptime")
    assert UPTIME in table.stdout and "Website uptime check" in table.stdout
    shown = cli("templates", "show", UPTIME)
    assert (
        shown.exit_code == 0
        and "threshold_ms" in shown.stdout
        and "check (foreach)" in shown.stdout
    )
    assert _json(cli("templates", "show", UPTIME, "--json").stdout)["id"] == UPTIME


def test_create_run_and_find_the_execution(cli: Cli, target: Target) -> None:
    workflow_id = _create(cli, target, "My site")
    listed = cli("workflows", "list")
    assert "My site" in listed.stdout and UPTIME in listed.stdout
    shown = cli("workflows", "show", "My site")
    assert workflow_id in shown.stdout and "urls" in shown.stdout

    ran = cli("run", "My site", "--wait")
    assert ran.exit_code == 0, ran.output
    assert "✓ check[0].probe (http) succeeded in " in ran.stdout
    assert "✓ summary (set) succeeded" in ran.stdout
    assert "- fail_run (fail) skipped" in ran.stdout
    assert '"healthy": true' in ran.stdout

    executions = _json(cli("executions", "list", "--json").stdout)["items"]
    assert [e["status"] for e in executions] == ["succeeded"]
    table = cli("executions", "list", "--workflow", "My site")
    assert executions[0]["id"] in table.stdout and "My site" in table.stdout
    shown = cli("executions", "show", executions[0]["id"])
    assert "summary" in shown.stdout and '"healthy": true' in shown.stdout
    logs = cli("executions", "logs", executions[0]["id"])
    assert "report_healthy: All 1 pages answered 200" in logs.stdout


def test_a_failed_execution_exits_3_and_can_be_retried_and_rerun(cli: Cli, target: Target) -> None:
    _create(cli, target, "Down", path="/status/500")
    ran = cli("run", "Down", "--wait")
    assert ran.exit_code == 3, ran.output
    assert "✗ fail_run (fail) failed" in ran.stdout and "1 of 1 pages are failing" in ran.stdout
    execution_id = _json(cli("executions", "list", "--json").stdout)["items"][0]["id"]
    retried = cli("executions", "retry", execution_id, "--wait")
    assert retried.exit_code == 3 and f"retries {execution_id}" in retried.stdout
    rerun = cli(
        "executions", "rerun", execution_id, "-i", "fail_when_down=false", "--json", "--wait"
    )
    assert rerun.exit_code == 0, rerun.output
    assert _json(rerun.stdout)["status"] == "succeeded"
    tail = cli("executions", "tail", execution_id)
    assert tail.exit_code == 3 and "✗ fail_run (fail) failed" in tail.stdout


def test_cancel_a_waiting_execution(cli: Cli, engine: Api, ada: Person) -> None:
    definition = {"steps": [{"id": "hold", "type": "wait", "with": {"signal": "go"}}]}
    made = engine.post("/api/workflows", ada, json={"name": "Hold", "definition": definition})
    assert made.status_code == 201, made.text
    started = cli("run", "Hold", "--json")
    execution_id = _json(started.stdout)["id"]
    assert cli("executions", "cancel", execution_id).exit_code == 0
    tail = cli("executions", "tail", execution_id)
    assert tail.exit_code == 3 and "cancelled" in tail.stderr


def test_export_import_and_delete(cli: Cli, target: Target, tmp_path: Path) -> None:
    _create(cli, target, "Original")
    exported = tmp_path / "wf.yaml"
    assert cli("workflows", "export", "Original", "-o", str(exported)).exit_code == 0
    document = yaml.safe_load(exported.read_text())
    document["name"] = "Imported"
    exported.write_text(yaml.safe_dump(document))
    imported = cli("workflows", "import", str(exported))
    assert imported.exit_code == 0 and "Imported workflow 'Imported'" in imported.stdout
    as_json = _json(cli("workflows", "export", "Imported", "--format", "json").stdout)
    assert as_json["definition"] == document["definition"]
    deleted = cli("workflows", "delete", "Imported", "--yes")
    assert deleted.exit_code == 0 and "Deleted workflow 'Imported'" in deleted.stdout
    kept = cli("workflows", "delete", "Original", input="n\n")
    assert kept.exit_code == 1
    names = [w["name"] for w in _json(cli("workflows", "list", "--json").stdout)["items"]]
    assert names == ["Original"]


def _editor(tmp_path: Path, cli: Cli, *rounds: list[tuple[str, str]]) -> None:
    """$EDITOR: a script that applies the next round of replacements each time it starts."""
    script = tmp_path / "editor.py"
    script.write_text(
        "import pathlib, sys, json\n"
        f"state = pathlib.Path({str(tmp_path / 'round')!r})\n"
        "n = int(state.read_text()) if state.exists() else 0\n"
        "state.write_text(str(n + 1))\n"
        f"changes = json.loads({json.dumps(json.dumps(rounds))})[n]\n"
        "path = pathlib.Path(sys.argv[1])\n"
        "text = path.read_text()\n"
        "for old, new in changes:\n"
        "    text = text.replace(old, new)\n"
        "path.write_text(text)\n"
    )
    cli.monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    cli.monkeypatch.delenv("VISUAL", raising=False)


def test_edit_saves_and_offers_a_refused_edit_again(
    cli: Cli, target: Target, tmp_path: Path
) -> None:
    _create(cli, target, "Editable")
    _editor(
        tmp_path,
        cli,
        [("type: set", "type: sett")],
        [("type: sett", "type: set"), ("name: Editable", "name: Edited")],
    )
    edited = cli("workflows", "edit", "Editable", input="y\n")
    assert edited.exit_code == 0, edited.output
    assert "definition.steps[1].type" in edited.stderr and "unknown step type" in edited.stderr
    assert "Saved 'Edited'" in edited.stdout

    (tmp_path / "round").unlink()
    _editor(tmp_path, cli, [("name: Edited", "name: Renamed\nbogus: 1")])
    refused = cli("workflows", "edit", "Edited", input="n\n")
    assert refused.exit_code == 1
    kept = refused.stderr.split("Your edits are kept in ")[1].split()[0]
    assert "bogus: 1" in Path(kept).read_text()
    Path(kept).unlink()
    assert "Edited" in cli("workflows", "list").stdout
    (tmp_path / "round").unlink()
    _editor(tmp_path, cli, [])
    unchanged = cli("workflows", "edit", "Edited")
    assert unchanged.exit_code == 0 and "No changes." in unchanged.stdout
    _editor(tmp_path, cli)  # the editor fails (no round left): nothing is saved
    failed = cli("workflows", "edit", "Edited")
    assert "exited with status 1: nothing was saved" in str(failed.exception)


def test_login_saves_a_private_token(
    cli: Cli, engine: Api, ada: Person, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = str(engine.client.base_url).rstrip("/")
    monkeypatch.delenv("FLOWDECK_TOKEN")
    monkeypatch.delenv("FLOWDECK_URL")
    logged = cli("login", input=f"{url}\n{ada.email}\n{ada.password}\n")
    assert logged.exit_code == 0, logged.output
    assert f"Logged in to {url} as {ada.email}" in logged.stdout
    config = tmp_path / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert ada.password not in config.read_text()
    assert cli("templates", "list").exit_code == 0  # with the saved token only
    tokens = engine.get("/api/tokens", ada).json()
    assert any(token["name"].startswith("cli on ") for token in tokens)

    wrong = cli("login", "--url", url, "--email", ada.email, "--password-stdin", input="nope\n")
    assert isinstance(wrong.exception, FlowdeckApiError)
    assert wrong.exception.code == "invalid_credentials"


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("run").exit_code == 2
    assert cli("workflows", "create").exit_code == 2  # --from-template is required
    assert cli("executions", "list", "--limit", "0").exit_code == 2

"""Shell completion: workflow names and execution ids from a real server, through the
callbacks and through the shell's side of it (Typer's completion environment variables,
in a subprocess), and nothing at all, quickly, when there is no login or no server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowdeck.cli.completion import COMPLETION_TIMEOUT, execution_ids, workflow_names
from tests.cli.conftest import Cli
from tests.engine.conftest import Target

UPTIME = "website-uptime-check"


def _create(cli: Cli, target: Target, name: str) -> str:
    made = cli(
        "workflows", "create", "--from-template", UPTIME, "--name", name,
        "-c", f'urls=["{target.url}/ok"]', "--json",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    workflow_id: str = json.loads(made.stdout)["id"]
    return workflow_id


def _start(cli: Cli, name: str) -> str:
    started = cli("run", name, "--json")
    assert started.exit_code == 0, started.output
    execution_id: str = json.loads(started.stdout)["id"]
    return execution_id


def _complete(env: dict[str, str], line: str) -> list[str]:
    """What bash would offer for `line` (its last word being completed)."""
    words = line.split(" ")
    script = Path(sys.executable).parent / "flowdeck"  # the prog name sets _FLOWDECK_COMPLETE
    done = subprocess.run(
        [str(script)],
        env={
            **env,
            "_FLOWDECK_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stderr == ""
    return [word for word in done.stdout.splitlines() if word]  # nothing: one empty line


def test_workflow_names_come_from_the_server(cli: Cli, target: Target) -> None:
    for name in ("nightly-report", "noon-check", "weekly-digest"):
        _create(cli, target, name)
    assert [name for name, _ in workflow_names("n")] == ["nightly-report", "noon-check"]
    assert [name for name, _ in workflow_names("")] == [
        "nightly-report",
        "noon-check",
        "weekly-digest",
    ]
    assert workflow_names("zzz") == []


def test_execution_ids_come_from_the_server(cli: Cli, target: Target) -> None:
    _create(cli, target, "nightly-report")
    first, second = _start(cli, "nightly-report"), _start(cli, "nightly-report")
    offered = {value for value, _ in execution_ids("")}
    assert {first, second} <= offered
    assert [value for value, _ in execution_ids(first[:13])] == [first]
    described = dict(execution_ids(first))[first]
    assert described.split()[0] in {"queued", "running", "succeeded", "failed"}


def test_nothing_without_a_login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FLOWDECK_TOKEN", raising=False)
    monkeypatch.setenv("FLOWDECK_CONFIG", str(tmp_path / "absent.toml"))
    assert workflow_names("") == []
    assert execution_ids("") == []


def test_nothing_quickly_without_a_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLOWDECK_URL", "http://127.0.0.1:9")  # discard: nobody listens
    monkeypatch.setenv("FLOWDECK_TOKEN", "fd_not-a-real-token")
    monkeypatch.setenv("FLOWDECK_CONFIG", str(tmp_path / "absent.toml"))
    started = time.monotonic()
    assert workflow_names("") == []
    assert execution_ids("") == []
    assert time.monotonic() - started < 2 * COMPLETION_TIMEOUT + 1


def test_a_bash_completion_round_trip(cli: Cli, env: dict[str, str], target: Target) -> None:
    _create(cli, target, "nightly-report")
    _create(cli, target, "weekly-digest")
    execution_id = _start(cli, "nightly-report")
    assert _complete(env, "flowdeck run ni") == ["nightly-report"]
    assert _complete(env, "flowdeck workflows show w") == ["weekly-digest"]
    assert _complete(env, "flowdeck executions list --workflow n") == ["nightly-report"]
    assert _complete(env, f"flowdeck executions logs {execution_id[:13]}") == [execution_id]
    # Commands and options still complete as Typer completes them.
    assert _complete(env, "flowdeck executions ta") == ["tail"]


def test_completion_is_quiet_when_not_logged_in(tmp_path: Path, env: dict[str, str]) -> None:
    anonymous = {k: v for k, v in env.items() if k != "FLOWDECK_TOKEN"}
    anonymous["FLOWDECK_CONFIG"] = str(tmp_path / "absent.toml")
    assert _complete(anonymous, "flowdeck run ") == []
    assert _complete(anonymous, "flowdeck executions show ") == []


@pytest.mark.parametrize(
    ("shell", "script"), [("bash", ".bash_completions/flowdeck.sh"), ("zsh", ".zfunc/_flowdeck")]
)
def test_install_completion(tmp_path: Path, shell: str, script: str) -> None:
    env = {
        "PATH": str(Path(sys.executable).parent),
        "HOME": str(tmp_path),
        # Typer's switch to name the shell instead of detecting the one that runs us.
        "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1",
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "flowdeck"), "--install-completion", shell],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert f"{shell} completion installed" in done.stdout
    installed = (tmp_path / script).read_text()
    assert f"_FLOWDECK_COMPLETE=complete_{shell}" in installed


def test_a_zsh_completion_round_trip(cli: Cli, env: dict[str, str], target: Target) -> None:
    _create(cli, target, "nightly-report")
    script = Path(sys.executable).parent / "flowdeck"
    done = subprocess.run(
        [str(script)],
        env={**env, "_FLOWDECK_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "flowdeck run n"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert '"nightly-report"' in done.stdout

"""CLI tests: the `flowdeck` app against a real API server with an in-process worker,
called in process (Typer's CliRunner) and as a subprocess (as a person would)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from flowdeck.cli import app
from tests.api.conftest import Api, Person
from tests.client.conftest import base_url
from tests.engine.conftest import engine as engine
from tests.engine.conftest import target as target
from tests.helpers import flowdeck_env


@pytest.fixture
def ada(engine: Api) -> Person:
    return engine.person("ada")


@pytest.fixture
def env(engine: Api, ada: Person, tmp_path: Path) -> dict[str, str]:
    """For a subprocess: this server, Ada's token, and a config file of the test's own."""
    return flowdeck_env(url=base_url(engine), token=ada.token, config=tmp_path / "config.toml")


class Cli:
    """`flowdeck ...` in process, with the environment of `env`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
        for key in ("FLOWDECK_URL", "FLOWDECK_TOKEN", "FLOWDECK_CONFIG"):
            monkeypatch.setenv(key, env[key])
        self.monkeypatch = monkeypatch
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Cli:
    return Cli(monkeypatch, env)

"""Client tests: a real API server with an in-process worker (tests/engine/conftest.py),
a person with a token, and a local HTTP server for the steps to call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flowdeck.client import Client
from tests.api.conftest import Api, Person
from tests.engine.conftest import engine as engine
from tests.engine.conftest import target as target


def base_url(api: Api) -> str:
    return str(api.client.base_url).rstrip("/")


@pytest.fixture
def ada(engine: Api) -> Person:
    return engine.person("ada")


@pytest.fixture
def no_config(tmp_path: Path) -> Path:
    """A config file path with nothing in it, so that no user's real config is read."""
    return tmp_path / "absent-config.toml"


@pytest.fixture
def client(engine: Api, ada: Person, no_config: Path) -> Iterator[Client]:
    with Client(base_url(engine), ada.token, config_path=no_config) as flowdeck:
        yield flowdeck

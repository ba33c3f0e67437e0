"""Docs tests: the examples of the docs, run against a real API server with an in-process
worker (tests/engine/conftest.py) on a fresh database."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, Person
from tests.engine.conftest import engine as engine


@pytest.fixture
def ada(engine: Api) -> Person:
    """The person of the examples (ada@example.com)."""
    return engine.person("ada")

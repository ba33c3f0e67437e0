"""`flowdeck serve` against a PostgreSQL server given by URL: migrate, probe, stop."""

from __future__ import annotations

import re

import psycopg

from flowdeck.db import admin
from flowdeck.db.migrate import load_migrations
from tests.conftest import DatabaseFactory
from tests.helpers import ServeProcess, flowdeck_env, run_flowdeck

SHUTDOWN = re.compile(r"Application shutdown complete")


def test_serve_migrates_answers_probes_and_stops_on_sigterm(empty_db_url: str) -> None:
    server = ServeProcess(flowdeck_env(database_url=empty_db_url))
    try:
        health = server.get("/healthz")
        ready = server.get("/readyz")
    finally:
        code = server.stop()
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "migrations": len(load_migrations())}
    assert code == 0, server.text
    assert SHUTDOWN.search(server.text)
    assert "Traceback" not in server.text


def test_readyz_is_503_when_migrations_are_not_current(db_url: str) -> None:
    server = ServeProcess(flowdeck_env(database_url=db_url))
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(
                "DELETE FROM schema_migrations WHERE filename = '003_workflow_templates.sql'"
            )
        ready = server.get("/readyz")
    finally:
        server.stop()
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "reason": "003_workflow_templates.sql is not applied",
    }


def test_readyz_is_503_while_the_database_is_unreachable(
    server_url: str, database_factory: DatabaseFactory, template_database: str
) -> None:
    url = database_factory(template_database)
    server = ServeProcess(flowdeck_env(database_url=url))
    try:
        assert server.get("/readyz").status_code == 200
        admin.drop_database(server_url, str(psycopg.conninfo.conninfo_to_dict(url)["dbname"]))
        ready = server.get("/readyz")
        alive = server.get("/healthz")
    finally:
        server.stop()
    assert ready.status_code == 503
    assert ready.json()["reason"].startswith("Cannot connect to database")
    assert alive.status_code == 200


def test_serve_refuses_to_start_on_an_unreachable_database() -> None:
    env = flowdeck_env(database_url="postgresql://postgres@127.0.0.1:9/flowdeck")
    result = run_flowdeck("serve", "--port", "0", env=env)
    assert result.returncode == 1
    assert "error: Cannot connect to database flowdeck on 127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr

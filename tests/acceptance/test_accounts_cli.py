"""The admin commands that work on the database directly, and serve's first start."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import psycopg

from flowdeck.catalog.loader import load_builtin_templates
from tests.helpers import ServeProcess, flowdeck_env, run_flowdeck

FIRST_START = re.compile(r"API token: (fd_[\w-]+)")


def test_first_serve_creates_an_admin_prints_the_login_once_and_syncs_the_catalog(
    empty_db_url: str,
) -> None:
    env = flowdeck_env(database_url=empty_db_url)
    first = ServeProcess(env)
    try:
        token = FIRST_START.search(first.text)
        password = re.search(r"Password:\s+(\S+)", first.text)
        assert token and password, first.text
        assert "Email:     admin@flowdeck.local" in first.text
        me = httpx.get(
            f"{first.base_url}/api/me",
            headers={"Authorization": f"Bearer {token.group(1)}"},
            timeout=10,
        )
        login = httpx.post(
            f"{first.base_url}/api/auth/login",
            json={"email": "admin@flowdeck.local", "password": password.group(1)},
            timeout=10,
        )
        templates = httpx.get(
            f"{first.base_url}/api/templates",
            params={"limit": 200},
            headers={"Authorization": f"Bearer {token.group(1)}"},
            timeout=10,
        )
    finally:
        first.stop()
    assert me.status_code == 200 and me.json()["is_admin"] is True
    assert login.status_code == 200
    assert len(templates.json()["items"]) == len(load_builtin_templates())

    second = ServeProcess(env)
    second.stop()
    assert "First start" not in second.text and "API token" not in second.text
    with psycopg.connect(empty_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (1,)


def test_users_and_tokens_commands(db_url: str) -> None:
    env = flowdeck_env(database_url=db_url)
    created = run_flowdeck(
        "users", "create", "--email", "ada@example.com", "--name", "Ada", env=env
    )
    assert created.returncode == 0, created.stderr
    assert "Created user ada@example.com" in created.stdout
    assert re.search(r"Password: \S{12,}", created.stdout)

    admin = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowdeck",
            "users",
            "create",
            "--email",
            "root@example.com",
            "--admin",
            "--password-stdin",
        ],
        input="s3cret-enough\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert admin.returncode == 0, admin.stderr
    assert "Created administrator root@example.com" in admin.stdout
    assert "s3cret-enough" not in admin.stdout

    again = run_flowdeck("users", "create", "--email", "ADA@example.com", env=env)
    assert again.returncode == 1
    assert "error: A user with the email ADA@example.com exists already." in again.stderr
    assert "Traceback" not in again.stderr

    token = run_flowdeck(
        "tokens",
        "create",
        "--email",
        "ada@example.com",
        "--name",
        "laptop",
        "--expires",
        "30d",
        env=env,
    )
    assert token.returncode == 0, token.stderr
    value = token.stdout.strip()
    assert re.fullmatch(r"fd_[\w-]{40,}", value)
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT name, expires_at > now() + interval '29 days', "
            "expires_at < now() + interval '31 days' FROM api_tokens"
        ).fetchone()
    assert row == ("laptop", True, True)

    nobody = run_flowdeck("tokens", "create", "--email", "who@example.com", env=env)
    assert nobody.returncode == 1
    assert "No user has the email who@example.com." in nobody.stderr
    bad = run_flowdeck(
        "tokens", "create", "--email", "ada@example.com", "--expires", "soon", env=env
    )
    assert bad.returncode == 1
    assert "--expires 'soon'" in bad.stderr


def test_templates_sync_keeps_usage_counts(db_url: str) -> None:
    env = flowdeck_env(database_url=db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE workflow_templates SET usage_count = 5, name = 'Renamed' "
            "WHERE id = 'fan-out-requests'"
        )
    synced = run_flowdeck("templates", "sync", env=env)
    assert synced.returncode == 0, synced.stderr
    assert "0 added, 1 updated" in synced.stdout
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT usage_count, name <> 'Renamed' FROM workflow_templates "
            "WHERE id = 'fan-out-requests'"
        ).fetchone()
    assert row == (5, True)
    unchanged = run_flowdeck("templates", "sync", env=env)
    assert f"0 added, 0 updated, {len(load_builtin_templates())} unchanged" in unchanged.stdout

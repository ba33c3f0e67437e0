"""Schemathesis over the whole OpenAPI of a running `flowdeck serve`, as a user and as an
administrator: no server error, no status, content type or body the document does not
declare.

All four phases run (examples, coverage, fuzzing, stateful: chains of operations that
follow the links Schemathesis infers, e.g. create a workflow, run it, cancel the run),
25 examples per operation, with a fixed seed so a failure can be replayed. Nothing is
excluded. The run is the CLI's (`schemathesis run`), as a person would point it at
their server; its report is shown when it fails.

Known and accepted: the fuzzer signs in with wrong passwords many times; the sign-in
throttle answers 429 then, which the document declares.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowdeck.db import admin
from tests.conftest import SESSION_PREFIX
from tests.helpers import ServeProcess, flowdeck_env, run_flowdeck

ROOT = Path(__file__).resolve().parents[2]
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
EXAMPLES_PER_OPERATION = 25
SEED = 20261202
ACCOUNTS = {"user": "fuzz-user@example.com", "admin": "fuzz-admin@example.com"}


@pytest.fixture(scope="module")
def fuzzed_server(
    server_url: str, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServeProcess, str]]:
    """A `flowdeck serve` (with its worker) on a database of its own, with two accounts."""
    name = f"{SESSION_PREFIX}_{secrets.token_hex(4)}"
    url = admin.create_database(server_url, name, template=template_database)
    env = flowdeck_env(database_url=url, data_dir=tmp_path_factory.mktemp("fuzz"))
    for role, email in ACCOUNTS.items():
        made = run_flowdeck(
            "users", "create", "--email", email, *(["--admin"] if role == "admin" else []), env=env
        )
        assert made.returncode == 0, made.stderr
    server = ServeProcess(env)
    try:
        yield server, url
    finally:
        server.stop()
        admin.drop_database(server_url, name)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("role", sorted(ACCOUNTS))
def test_no_server_error_and_no_undeclared_answer(
    fuzzed_server: tuple[ServeProcess, str], role: str, tmp_path: Path
) -> None:
    server, database_url = fuzzed_server
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.fuzz.st_hooks",
        "FUZZ_DATABASE_URL": database_url,
        "FUZZ_EMAIL": ACCOUNTS[role],
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{server.base_url}/api/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            str(SEED),
            # One at a time: Hypothesis' lambda inspection is not thread-safe (a run
            # with two workers once stopped its coverage phase with an AST error).
            "--workers",
            "1",
            "--no-shrink",
            "--output-truncate",
            "true",
        ],
        cwd=tmp_path,  # Hypothesis keeps its example database here
        env=env,
        capture_output=True,
        text=True,
        timeout=850,
        check=False,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert " passed" in report and "Stateful" in report, report
    # Nothing went wrong inside either, even where the answer was a 4xx.
    server_log = server.output_so_far()
    assert "GET /api/openapi.json" in server_log
    assert "unexpected error" not in server_log, server_log
    assert "Traceback" not in server_log, server_log

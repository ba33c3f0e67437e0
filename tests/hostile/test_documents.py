"""Hostile documents against a real `flowdeck serve`: the alias bomb and deep nesting sent
to import and to the editor's check are refused at once, and the server keeps answering
everyone else (/healthz within 200 ms throughout); a normal import works afterwards.

Before the document limits, the bomb sent to import froze the whole process for minutes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import Api, error_of
from tests.helpers import ServeProcess, flowdeck_env
from tests.hostile.probe import HealthProbe
from tests.unit.test_documents import alias_bomb, nested_block
from tests.web.test_pages import browser_of, token

ROUNDS = 3  # the hostile requests are quick: repeat them so the probe sees them all
BUDGET = 1.0  # seconds for each answer
DEFINITION: dict[str, Any] = {"steps": [{"id": "note", "type": "log", "with": {"message": "hi"}}]}
# (what, a definition, the limit it passes): each is imported and sent to the editor's
# check. 10,000 levels are far past what a recursive composer survives (about 330); not
# more, as the editor's form encodes each bracket as %5B, and decoding a form body of
# hundreds of thousands of escapes is work of its own (Starlette's, on the event loop).
HOSTILE = [
    ("alias bomb", "steps: []\n" + alias_bomb(), "FLOWDECK_DOCUMENT_MAX_NODES"),
    ("deep flow YAML", "steps: " + "[" * 10_000 + "]" * 10_000, "FLOWDECK_DOCUMENT_MAX_DEPTH"),
    ("deep block YAML", "steps: []\n" + nested_block(500), "FLOWDECK_DOCUMENT_MAX_DEPTH"),
]
DEEP_JSON = '{"name": "deep", "definition": ' + "[" * 200_000 + "]" * 200_000 + "}"


def _within_budget(send: Any) -> httpx.Response:
    started = time.perf_counter()
    response: httpx.Response = send()
    took = time.perf_counter() - started
    assert took < BUDGET, f"answered in {took:.2f}s"
    return response


def _indented(definition: str) -> str:
    return "".join(f"  {line}\n" for line in definition.splitlines())


def test_hostile_documents_are_refused_while_the_server_stays_responsive(
    db_url: str, tmp_path: Path
) -> None:
    server = ServeProcess(flowdeck_env(database_url=db_url, data_dir=tmp_path))
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            api = Api(client, db_url)
            ada = api.person("ada")
            made = api.post("/api/workflows", ada, json={"name": "w", "definition": DEFINITION})
            assert made.status_code == 201, made.text
            validate = f"/workflows/{made.json()['id']}/validate"
            yaml = {"Content-Type": "application/yaml"}
            with browser_of(api, ada) as browser, HealthProbe(server.base_url) as probe:
                csrf = token(browser)
                for _ in range(ROUNDS):
                    for what, definition, setting in HOSTILE:
                        document = f"name: {what}\ndefinition:\n{_indented(definition)}"
                        imported = _within_budget(
                            lambda d=document: api.post(
                                "/api/workflows/import", ada, content=d, headers=yaml
                            )
                        )
                        assert imported.status_code == 400, (what, imported.text)
                        error = error_of(imported)
                        assert error["code"] == "document_too_complex", what
                        assert setting in error["message"], what
                        checked = _within_budget(
                            lambda d=definition: browser.post(
                                validate, data={"csrf_token": csrf, "definition": d}
                            )
                        )
                        [issue] = checked.json()["issues"]
                        assert setting in issue["message"] and issue["line"], what
                    deep = _within_budget(
                        lambda: api.post(
                            "/api/workflows/import",
                            ada,
                            content=DEEP_JSON,
                            headers={"Content-Type": "application/json"},
                        )
                    )
                    assert error_of(deep)["code"] == "document_too_complex"
                    time.sleep(0.3)  # the probe's next rounds, after each burst
            probe.assert_responsive()
            assert len(probe.latencies) >= ROUNDS * 3
            assert api.sql("SELECT count(*) AS n FROM user_workflows")[0]["n"] == 1
            fine = api.post(
                "/api/workflows/import",
                ada,
                content=f"name: fine\ndefinition:\n{_indented('steps: []')}",
                headers=yaml,
            )
            assert fine.status_code == 201, fine.text
    finally:
        server.stop()
    assert "Traceback" not in server.text

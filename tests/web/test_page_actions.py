"""The pages where work happens: a workflow's definition editor and run form, and the
executions (history, timeline, approve/reject, cancel, retry, rerun, masked secrets).

Executions really run (the `engine` fixture has an in-process worker); tests wait for
them on NOTIFY, never on sleeps.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import unquote
from uuid import UUID

import pytest

from tests.api.conftest import Api, Person
from tests.api.conftest import api as api
from tests.engine.conftest import Target, wait_for_final
from tests.engine.conftest import engine as engine
from tests.engine.conftest import target as target
from tests.engine.test_waiting import wait_for_waiting
from tests.web.test_pages import (
    browser_of,
    make_workflow,
    notice_of,
    sign_in,
    textarea,
    token,
)

BROKEN = """\
steps:
  - id: first
    type: set
    with: {x: 1}
  - id: second
    type: nope
    with: {}
bogus: 1
"""
FIXED = (
    BROKEN.replace("nope", "log")
    .replace("with: {}", "with: {message: hi}")
    .replace("bogus: 1\n", "")
)
FIXED_DEFINITION: dict[str, Any] = {"steps": [{"id": "x", "type": "log", "with": {"message": "m"}}]}


def execution(api: Api, who: Person, execution_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"/api/executions/{execution_id}", who).json()
    return body


def finished(api: Api, who: Person, execution_id: str) -> dict[str, Any]:
    wait_for_final(api.db_url, [UUID(execution_id)])
    return execution(api, who, execution_id)


def step_sections(page: str) -> dict[str, str]:
    """Each step's part of the execution page (path -> its HTML, unescaped)."""
    found = re.findall(r'<li id="step-\d+" class="step.*?<code>(.*?)</code>(.*?)</li>', page, re.S)
    return {html.unescape(path): html.unescape(body) for path, body in found}


def lanes(page: str) -> dict[str, str]:
    """The timeline's bars: path -> status."""
    bars = re.findall(r'class="lane" role="listitem" data-path="([^"]+)" data-status="(\w+)"', page)
    return dict(bars)


def start(api: Api, who: Person, definition: dict[str, Any], wait: float = 0) -> str:
    workflow = make_workflow(api, who, "Run me", definition=definition)
    started = api.post(
        f"/api/workflows/{workflow['id']}/executions", who, params={"wait": wait}, json={}
    )
    assert started.status_code == 201, started.json()
    execution_id: str = started.json()["id"]
    return execution_id


# --- the definition editor --------------------------------------------------------------------


def test_the_editor_shows_the_definition_as_yaml(api: Api) -> None:
    ada = api.person("ada")
    definition = {
        "steps": [{"with": {"message": "hi"}, "type": "log", "id": "hello"}],
        "inputs": {"who": {"type": "string", "default": "you"}},
    }
    workflow = make_workflow(api, ada, "Shown", definition=definition)
    with browser_of(api, ada) as browser:
        page = browser.get(f"/workflows/{workflow['id']}").text
    assert textarea(page, "definition") == (
        "inputs:\n  who:\n    type: string\n    default: you\n"
        "steps:\n- id: hello\n  type: log\n  with:\n    message: hi\n"
    )
    assert 'data-step-id="hello"' in page


def test_validate_reports_each_problem_at_its_line(api: Api) -> None:
    ada = api.person("ada")
    workflow = make_workflow(api, ada, "Checked")
    path = f"/workflows/{workflow['id']}/validate"
    with browser_of(api, ada) as browser:
        csrf = token(browser)
        checked = browser.post(path, data={"csrf_token": csrf, "definition": BROKEN})
        assert checked.status_code == 200
        issues = checked.json()["issues"]
        assert [(i["line"], i["path"]) for i in issues] == [(6, "steps[1].type"), (8, "bogus")]
        assert "unknown step type 'nope'" in issues[0]["message"]
        syntax = browser.post(
            path, data={"csrf_token": csrf, "definition": "steps:\n  - id: a\n   type: [\n"}
        ).json()["issues"]
        assert len(syntax) == 1 and syntax[0]["line"] == 3
        assert syntax[0]["message"].startswith("Not valid YAML")
        fine = browser.post(path, data={"csrf_token": csrf, "definition": FIXED})
        assert fine.json()["issues"] == []


def test_validate_counts_blank_lines_at_the_top(api: Api) -> None:
    # The text is checked as the editor shows it (it once was stripped first).
    ada = api.person("ada")
    workflow = make_workflow(api, ada, "Checked")
    with browser_of(api, ada) as browser:
        checked = browser.post(
            f"/workflows/{workflow['id']}/validate",
            data={"csrf_token": token(browser), "definition": "\n\n" + BROKEN},
        )
    assert [i["line"] for i in checked.json()["issues"]] == [8, 10]


def test_an_invalid_definition_is_not_saved_and_is_shown_as_typed(api: Api) -> None:
    ada = api.person("ada")
    workflow = make_workflow(api, ada, "Edited")
    path = f"/workflows/{workflow['id']}/definition"
    with browser_of(api, ada) as browser:
        csrf = token(browser)
        refused = browser.post(path, data={"csrf_token": csrf, "definition": BROKEN})
        assert refused.status_code == 422
        assert textarea(refused.text, "definition") == BROKEN
        assert re.search(r'<span data-line="6" class="bad" title="unknown step type', refused.text)
        assert '<span data-line="8" class="bad"' in refused.text
        assert '<span data-line="2">' in refused.text  # a good line stays unmarked
        assert '<li data-line="6"><button type="button" class="link goto">Line 6</button>' in (
            refused.text
        )
        syntax = browser.post(path, data={"csrf_token": csrf, "definition": "steps: [\n"})
        assert syntax.status_code == 422 and "Not valid YAML" in syntax.text
        assert (
            api.get(f"/api/workflows/{workflow['id']}", ada).json()["definition"]
            == (workflow["definition"])
        )
        saved = browser.post(path, data={"csrf_token": csrf, "definition": FIXED})
        assert saved.status_code == 303
        assert saved.headers["location"] == f"/workflows/{workflow['id']}#definition"
        assert notice_of(browser.get(saved.headers["location"]).text) == "Definition saved."
    stored = api.get(f"/api/workflows/{workflow['id']}", ada).json()["definition"]
    assert [step["id"] for step in stored["steps"]] == ["first", "second"]
    assert stored["steps"][1] == {"id": "second", "type": "log", "with": {"message": "hi"}}


def test_a_definition_that_no_longer_fits_the_config_is_not_saved(api: Api) -> None:
    ada = api.person("ada")
    definition = {"inputs": {"n": {"type": "integer"}}, **FIXED_DEFINITION}
    workflow = make_workflow(api, ada, "Configured", definition=definition, config={"n": 5})
    with browser_of(api, ada) as browser:
        refused = browser.post(
            f"/workflows/{workflow['id']}/definition",
            data={"csrf_token": token(browser), "definition": FIXED},
        )
    assert refused.status_code == 422
    assert "<code>config.n</code>: not a declared input" in refused.text
    assert api.get(f"/api/workflows/{workflow['id']}", ada).json()["definition"] == definition


@pytest.mark.parametrize("value", ["2024-01-01", ".inf"])
def test_a_value_json_cannot_hold_is_an_issue_at_its_line(api: Api, value: str) -> None:
    ada = api.person("ada")
    workflow = make_workflow(api, ada, "Dated")
    text = f"steps:\n  - id: a\n    type: set\n    with:\n      day: {value}\n"
    with browser_of(api, ada) as browser:
        saved = browser.post(
            f"/workflows/{workflow['id']}/definition",
            data={"csrf_token": token(browser), "definition": text},
        )
    assert saved.status_code == 422
    assert '<span data-line="5" class="bad"' in saved.text


# --- running ------------------------------------------------------------------------------------

GREET: dict[str, Any] = {
    "inputs": {"who": {"type": "string"}, "extra": {"type": "object", "required": False}},
    "steps": [{"id": "greet", "type": "set", "with": {"text": "hello {{ inputs.who }}"}}],
}


def test_the_run_form_starts_one_execution_per_click(engine: Api) -> None:
    ada = engine.person("ada")
    workflow = make_workflow(engine, ada, "Greeter", definition=GREET)
    with browser_of(engine, ada) as browser:
        page = browser.get(f"/workflows/{workflow['id']}").text
        key = re.search(r'name="run_key" value="([^"]+)"', page)
        assert key is not None
        form = {"csrf_token": token(browser), "run_key": key.group(1), "input.who": "Ada"}
        first = browser.post(f"/workflows/{workflow['id']}/run", data=form)
        again = browser.post(f"/workflows/{workflow['id']}/run", data=form)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    execution_id = first.headers["location"].removeprefix("/executions/")
    done = finished(engine, ada, execution_id)
    assert done["status"] == "succeeded"
    assert done["inputs"] == {"who": "Ada", "extra": None}  # an empty optional is left out
    assert done["steps"][0]["output"] == {"text": "hello Ada"}
    listed = engine.get("/api/executions", ada, params={"workflow_id": workflow["id"]}).json()
    assert [e["id"] for e in listed["items"]] == [execution_id]


def test_bad_run_inputs_show_the_form_again_and_start_nothing(api: Api) -> None:
    ada = api.person("ada")
    workflow = make_workflow(api, ada, "Greeter", definition=GREET)
    path = f"/workflows/{workflow['id']}/run"
    with browser_of(api, ada) as browser:
        csrf = token(browser)
        typed = '{"a": 1'
        bad = browser.post(
            path, data={"csrf_token": csrf, "input.who": "Ada", "input.extra": typed}
        )
        assert bad.status_code == 422
        assert "inputs.extra" in bad.text
        assert textarea(bad.text, "input.extra") == typed
        assert 'name="input.who" value="Ada"' in bad.text
        missing = browser.post(path, data={"csrf_token": csrf, "input.who": "  "})
        assert missing.status_code == 422 and "inputs.who" in missing.text
    assert api.sql("SELECT count(*) AS n FROM workflow_executions") == [{"n": 0}]


@pytest.mark.parametrize(
    ("referer", "landing"),
    [
        ("{base}/workflows/{id}?tab=run", "/workflows/{id}?tab=run"),
        ("", "/workflows"),
        ("https://evil.com/workflows/{id}", "/workflows"),
    ],
)
def test_a_form_sent_after_the_session_ended_comes_back_to_its_page(
    api: Api, referer: str, landing: str
) -> None:
    # A form's own URL answers only POST: the way back is the page the form was on.
    ada = api.person("ada")
    workflow = make_workflow(api, ada, "Greeter")
    fill = {"base": str(api.client.base_url).rstrip("/"), "id": workflow["id"]}
    headers = {"Referer": referer.format(**fill)} if referer else {}
    with browser_of(api) as browser:
        sent = browser.post(
            f"/workflows/{workflow['id']}/run", data={"csrf_token": "old"}, headers=headers
        )
        assert sent.status_code == 303
        back = sign_in(browser, ada, unquote(sent.headers["location"].partition("next=")[2]))
        assert back.headers["location"] == landing.format(**fill)
        landed = browser.get(back.headers["location"])
    assert landed.status_code == 200
    assert landed.headers["content-type"].startswith("text/html")
    assert api.sql("SELECT count(*) AS n FROM workflow_executions") == [{"n": 0}]


# --- executions ---------------------------------------------------------------------------------

FAILING: dict[str, Any] = {
    "steps": [
        {"id": "greet", "type": "set", "with": {"text": "hello <b>you</b>"}},
        {"id": "boom", "type": "fail", "with": {"message": "broke on purpose"}},
    ]
}
APPROVAL: dict[str, Any] = {
    "steps": [
        {"id": "approval", "type": "wait", "with": {"signal": "approval", "timeout": "1h"}},
        {
            "id": "after",
            "type": "set",
            "with": {"approved": "{{ steps.approval.output.approved }}"},
        },
    ]
}


def listed(browser: Any, **params: str) -> set[str]:
    page = browser.get("/executions", params=params)
    assert page.status_code == 200
    return set(re.findall(r'<a href="/executions/([^"]+)" aria-label="Execution', page.text))


def test_the_history_filters_by_status_and_workflow(engine: Api) -> None:
    ada, bob = engine.person("ada"), engine.person("bob")
    good = start(engine, ada, FIXED_DEFINITION, wait=30)
    bad = start(engine, ada, FAILING, wait=30)
    start(engine, bob, FIXED_DEFINITION, wait=30)
    workflow_of_good = execution(engine, ada, good)["user_workflow_id"]
    with browser_of(engine, ada) as browser:
        assert listed(browser) == {good, bad}  # never Bob's
        assert listed(browser, status="failed") == {bad}
        assert listed(browser, status="succeeded") == {good}
        assert listed(browser, workflow=workflow_of_good) == {good}
        assert listed(browser, workflow="not-a-uuid", status="nonsense") == {good, bad}
        page = browser.get("/executions", params={"status": "failed"}).text
        assert "<option selected>failed</option>" in page


def test_an_execution_page_shows_its_timeline_outputs_and_errors(engine: Api) -> None:
    ada = engine.person("ada")
    execution_id = start(engine, ada, FAILING, wait=30)
    assert execution(engine, ada, execution_id)["status"] == "failed"
    with browser_of(engine, ada) as browser:
        page = browser.get(f"/executions/{execution_id}").text
        live = browser.get(f"/executions/{execution_id}/live")
    assert lanes(page) == {"greet": "succeeded", "boom": "failed"}
    steps = step_sections(page)
    assert '"text": "hello <b>you</b>"' in steps["greet"]
    assert "<b>you</b>" not in page  # escaped on the page
    assert "broke on purpose" in steps["boom"] and "<h3>Error</h3>" in steps["boom"]
    assert 'data-step-id="boom"' in page and "status-failed" in page
    assert f'action="/executions/{execution_id}/retry"' in page
    assert f'action="/executions/{execution_id}/cancel"' not in page  # it has ended
    assert live.status_code == 200 and "<html" not in live.text
    assert lanes(live.text) == lanes(page)


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_waiting_step_is_approved_or_rejected_from_its_page(engine: Api, decision: str) -> None:
    ada = engine.person("ada")
    execution_id = start(engine, ada, APPROVAL)
    wait_for_waiting(engine.db_url, execution_id)
    with browser_of(engine, ada) as browser:
        page = browser.get(f"/executions/{execution_id}").text
        assert "approval is waiting for a decision" in page
        assert '<button type="submit" name="decision" value="approve"' in page
        assert '<button type="submit" name="decision" value="reject"' in page
        assert '<input type="hidden" name="signal" value="approval">' in page
        decided = browser.post(
            f"/executions/{execution_id}/decide",
            data={
                "csrf_token": token(browser, f"/executions/{execution_id}"),
                "signal": "approval",
                "decision": decision,
                "comment": "  looks fine ",
            },
        )
        assert decided.status_code == 303
        word = "Approved" if decision == "approve" else "Rejected"
        assert notice_of(browser.get(decided.headers["location"]).text) == (
            f"{word}; the execution goes on."
        )
    done = finished(engine, ada, execution_id)
    assert done["status"] == "succeeded"
    outputs = {step["step_id"]: step["output"] for step in done["steps"]}
    approved = decision == "approve"
    assert outputs["approval"] == {"approved": approved, "by": "Ada", "comment": "looks fine"}
    assert outputs["after"] == {"approved": approved}


def test_a_waiting_execution_is_cancelled_from_its_page(engine: Api) -> None:
    ada = engine.person("ada")
    execution_id = start(engine, ada, APPROVAL)
    wait_for_waiting(engine.db_url, execution_id)
    with browser_of(engine, ada) as browser:
        page = f"/executions/{execution_id}"
        cancelled = browser.post(f"{page}/cancel", data={"csrf_token": token(browser, page)})
        assert (cancelled.status_code, cancelled.headers["location"]) == (303, page)
        assert notice_of(browser.get(page).text) == "Cancelled."
    assert execution(engine, ada, execution_id)["status"] == "cancelled"


def test_a_failed_execution_is_retried_and_run_again(engine: Api, target: Target) -> None:
    ada = engine.person("ada")
    call = {"id": "call", "type": "http", "with": {"url": f"{target.url}/status/500"}}
    failed = start(engine, ada, {"steps": [{**call, "retry": {"attempts": 1}}]}, wait=30)
    assert execution(engine, ada, failed)["status"] == "failed"
    with browser_of(engine, ada) as browser:
        csrf = token(browser, f"/executions/{failed}")
        retried = browser.post(f"/executions/{failed}/retry", data={"csrf_token": csrf})
        rerun = browser.post(f"/executions/{failed}/rerun", data={"csrf_token": csrf})
        again = browser.post(f"/executions/{failed}/retry", data={"csrf_token": csrf})
        ended = browser.post(f"/executions/{failed}/cancel", data={"csrf_token": csrf})
        assert ended.status_code == 409  # an ended execution cannot be cancelled: a page says so
        assert "<h1>That did not work</h1>" in ended.text
    assert retried.status_code == rerun.status_code == again.status_code == 303
    retry_id = retried.headers["location"].removeprefix("/executions/")
    rerun_id = rerun.headers["location"].removeprefix("/executions/")
    assert len({failed, retry_id, rerun_id}) == 3
    assert finished(engine, ada, retry_id)["retry_of"] == failed
    assert finished(engine, ada, rerun_id)["retry_of"] is None
    assert execution(engine, ada, failed)["status"] == "failed"


def test_a_secret_is_masked_on_the_execution_page(engine: Api) -> None:
    ada = engine.person("ada")
    value = "sk-live-9f8e7d6c5b4a"
    assert (
        engine.client.put(
            "/api/secrets/API_KEY", headers=ada.headers, json={"value": value}
        ).status_code
        == 201
    )
    leak = {"steps": [{"id": "keep", "type": "set", "with": {"copy": "{{ secrets.API_KEY }}"}}]}
    execution_id = start(engine, ada, leak, wait=30)
    with browser_of(engine, ada) as browser:
        page = browser.get(f"/executions/{execution_id}").text
        live = browser.get(f"/executions/{execution_id}/live").text
    assert value not in page and value not in live
    assert '"copy": "***"' in step_sections(page)["keep"]

"""The web pages over plain HTTP (no browser, no script): signing in and out, the CSRF
check of every form, /workflows with its filters and in-place actions, and /templates.

A real server on a real PostgreSQL; a "browser" here is an httpx client that keeps
cookies and does not follow redirects, so each answer is checked as a person's
browser would receive it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, Person
from tests.api.conftest import api as api
from tests.engine.conftest import engine as engine

SIMPLE: dict[str, Any] = {"steps": [{"id": "hello", "type": "log", "with": {"message": "hi"}}]}
EXPIRED = "This form has expired"
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(page: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(page)
    assert match is not None, "no form with a csrf_token on the page"
    return match.group(1)


def sign_in(browser: httpx.Client, who: Person, next_url: str = "/workflows") -> httpx.Response:
    """Fill in and send the sign-in form, as a person would."""
    form = browser.get("/login", params={"next": next_url})
    assert form.status_code == 200, form.text
    return browser.post(
        "/login",
        data={
            "email": who.email,
            "password": who.password,
            "csrf_token": csrf_of(form.text),
            "next": next_url,
        },
    )


@contextmanager
def browser_of(api: Api, who: Person | None = None) -> Iterator[httpx.Client]:
    """A browser on the test server; signed in as `who` when given."""
    with httpx.Client(base_url=api.client.base_url, timeout=60) as browser:
        if who is not None:
            assert sign_in(browser, who).status_code == 303
        yield browser


def token(browser: httpx.Client, path: str = "/workflows") -> str:
    """The CSRF token the forms of a page carry."""
    return csrf_of(browser.get(path).text)


def make_workflow(api: Api, who: Person, name: str, **extra: Any) -> dict[str, Any]:
    body = {"name": name, "definition": extra.pop("definition", SIMPLE), **extra}
    made = api.post("/api/workflows", who, json=body)
    assert made.status_code == 201, made.json()
    result: dict[str, Any] = made.json()
    return result


def card(page: str, workflow_id: str) -> str:
    """The HTML of one workflow's card on /workflows."""
    for chunk in page.split('<li class="card workflow"')[1:]:
        if f'data-workflow-id="{workflow_id}"' in chunk.split(">", 1)[0]:
            return chunk.split("</li>", 1)[0]
    raise AssertionError(f"no card for {workflow_id}")


def textarea(page: str, name: str) -> str:
    """What a textarea of the page holds, as the browser shows it."""
    match = re.search(rf'<textarea[^>]*name="{re.escape(name)}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match is not None, f"no textarea {name}"
    return html.unescape(match.group(1))


def listed_ids(page: str) -> set[str]:
    return set(re.findall(r'class="card workflow" data-workflow-id="([^"]+)"', page))


def notice_of(page: str) -> str | None:
    match = re.search(r'<p class="notice notice-\w+" role="status">(.*?)</p>', page, re.S)
    return html.unescape(match.group(1)) if match else None


# --- signing in and out --------------------------------------------------------------------


def test_a_page_without_a_session_goes_to_login_and_back(api: Api) -> None:
    ada = api.person("ada")
    with browser_of(api) as browser:
        asked = browser.get("/workflows")
        assert asked.status_code == 303
        assert asked.headers["location"] == "/login?next=/workflows"
        signed = sign_in(browser, ada, "/templates?q=uptime")
        assert signed.status_code == 303
        assert signed.headers["location"] == "/templates?q=uptime"
        assert browser.get("/workflows").status_code == 200
        # Signed in already: the sign-in form sends the person straight on.
        again = browser.get("/login", params={"next": "/executions"})
        assert (again.status_code, again.headers["location"]) == (303, "/executions")


@pytest.mark.parametrize("elsewhere", ["//evil.com", "/\\evil.com", "https://evil.com/x"])
def test_login_never_sends_a_person_to_another_site(api: Api, elsewhere: str) -> None:
    with browser_of(api) as browser:
        signed = sign_in(browser, api.person("ada"), elsewhere)
        assert signed.status_code == 303
        assert signed.headers["location"] == "/workflows"


def test_a_wrong_password_shows_the_form_again_with_the_email(api: Api) -> None:
    ada = api.person("ada")
    with browser_of(api) as browser:
        form = browser.get("/login")
        wrong = browser.post(
            "/login",
            data={
                "email": ada.email,
                "password": "not-it",
                "csrf_token": csrf_of(form.text),
                "next": "/executions",
            },
        )
        assert wrong.status_code == 401
        assert "The email or the password is wrong." in wrong.text
        assert f'name="email" value="{ada.email}"' in wrong.text
        assert 'name="next" value="/executions"' in wrong.text
        assert browser.get("/workflows").status_code == 303  # still nobody signed in


def test_login_without_its_form_token_is_refused(api: Api) -> None:
    ada = api.person("ada")
    with browser_of(api) as browser:
        data = {"email": ada.email, "password": ada.password, "next": "/workflows"}
        missing = browser.post("/login", data=data)
        browser.get("/login")  # the cookie half of the token is now set
        forged = browser.post("/login", data={**data, "csrf_token": "made-up"})
        for refused in (missing, forged):
            assert refused.status_code == 401
            assert "The form expired" in refused.text
        assert browser.get("/workflows").status_code == 303


def test_logout_needs_the_token_and_ends_the_session(api: Api) -> None:
    with browser_of(api, api.person("ada")) as browser:
        cookie = browser.cookies["flowdeck_session"]
        refused = browser.post("/logout", data={"csrf_token": "nope"})
        assert refused.status_code == 403 and EXPIRED in refused.text
        assert browser.get("/workflows").status_code == 200
        out = browser.post("/logout", data={"csrf_token": token(browser)})
        assert (out.status_code, out.headers["location"]) == (303, "/login")
        assert "You are signed out." in (notice_of(browser.get("/login").text) or "")
    with httpx.Client(base_url=api.client.base_url, cookies={"flowdeck_session": cookie}) as old:
        assert old.get("/workflows").headers["location"] == "/login?next=/workflows"


# --- CSRF on every form ----------------------------------------------------------------------

FORMS: dict[str, dict[str, str]] = {
    "/workflows/{wf}/favorite": {"favorite": "true"},
    "/workflows/{wf}/duplicate": {},
    "/workflows/{wf}/delete": {},
    "/workflows/{wf}/definition": {"definition": "steps:\n  - {id: b, type: log, with: {}}\n"},
    "/workflows/{wf}/details": {"name": "Renamed", "category": "changed"},
    "/workflows/{wf}/run": {"run_key": "one"},
    "/workflows/{wf}/validate": {"definition": "steps: []\n"},
    "/templates/website-uptime-check/use": {"name": "Mine", "input.urls": '["https://a.test"]'},
    "/executions/{ex}/cancel": {},
    "/executions/{ex}/retry": {},
    "/executions/{ex}/rerun": {},
    "/executions/{ex}/decide": {"signal": "approval", "decision": "approve"},
}


def _state(api: Api) -> list[dict[str, Any]]:
    return api.sql(
        "SELECT (SELECT json_agg(w ORDER BY w.id) FROM user_workflows w)::text AS workflows,"
        " (SELECT json_agg(e ORDER BY e.id) FROM workflow_executions e)::text AS executions,"
        " (SELECT count(*) FROM execution_signals) AS signals,"
        " (SELECT sum(usage_count) FROM workflow_templates) AS template_uses"
    )


@pytest.mark.parametrize("route", list(FORMS))
def test_a_form_without_the_right_token_is_refused_and_changes_nothing(
    api: Api, route: str
) -> None:
    ada = api.person("ada")
    definition = {"steps": [{"id": "approval", "type": "wait", "with": {"signal": "approval"}}]}
    workflow = make_workflow(api, ada, "Guarded", definition=definition)
    started = api.post(f"/api/workflows/{workflow['id']}/executions", ada, json={})
    assert started.status_code == 201
    path = route.format(wf=workflow["id"], ex=started.json()["id"])
    before = _state(api)
    with browser_of(api, ada) as browser:
        for sent in ({}, {"csrf_token": "0" * 64}, {"csrf_token": ""}):
            refused = browser.post(path, data={**FORMS[route], **sent})
            assert refused.status_code == 403, (sent, refused.text)
            assert refused.headers["content-type"].startswith("text/html")
            assert EXPIRED in refused.text
    assert _state(api) == before


# --- /workflows ------------------------------------------------------------------------------


def test_no_workflows_points_to_the_templates(api: Api) -> None:
    with browser_of(api, api.person("ada")) as browser:
        page = browser.get("/workflows")
        assert page.status_code == 200
        assert "No workflows yet" in page.text
        assert 'href="/templates">Browse the templates' in page.text
        filtered = browser.get("/workflows", params={"q": "nothing"})
        assert "No workflow matches" in filtered.text and "No workflows yet" not in filtered.text


def test_search_category_and_favorites_filter_the_list(api: Api) -> None:
    ada = api.person("ada")
    report = make_workflow(api, ada, "Nightly report", category="reporting", is_favorite=True)
    uptime = make_workflow(api, ada, "Uptime", category="monitoring", description="pages")
    sync = make_workflow(api, ada, "Data sync", category="monitoring")
    everything = {report["id"], uptime["id"], sync["id"]}
    with browser_of(api, ada) as browser:

        def shown(**params: str) -> set[str]:
            page = browser.get("/workflows", params=params)
            assert page.status_code == 200
            return listed_ids(page.text)

        assert shown() == everything
        assert shown(q="REPORT") == {report["id"]}
        assert shown(q="pages") == {uptime["id"]}  # the description counts too
        assert shown(category="monitoring") == {uptime["id"], sync["id"]}
        assert shown(favorites="true") == {report["id"]}
        assert shown(category="monitoring", q="sync") == {sync["id"]}
        options = browser.get("/workflows").text
        assert '<option value="monitoring"' in options and '<option value="reporting"' in options


def test_a_card_shows_last_use_run_count_and_last_status(engine: Api) -> None:
    ada = engine.person("ada")
    ran = make_workflow(engine, ada, "Ran")
    never = make_workflow(engine, ada, "Never ran")
    for _ in range(2):
        done = engine.post(
            f"/api/workflows/{ran['id']}/executions", ada, params={"wait": 30}, json={}
        )
        assert done.json()["status"] == "succeeded"
    with browser_of(engine, ada) as browser:
        page = browser.get("/workflows").text
    shown = card(page, ran["id"])
    assert re.search(r"<dt>Runs</dt><dd>2</dd>", shown)
    assert re.search(r"<dt>Last used</dt><dd>(just now|\d+ s ago)</dd>", shown)
    assert f'href="/executions/{done.json()["id"]}"' in shown
    assert '<span class="badge status-succeeded">succeeded</span>' in shown
    idle = card(page, never["id"])
    assert "<dt>Runs</dt><dd>0</dd>" in idle and "<dd>never</dd>" in idle
    assert "<dt>Last run</dt><dd>—</dd>" in idle


def test_only_my_workflows_are_shown_and_names_are_escaped(api: Api) -> None:
    ada, bob = api.person("ada"), api.person("bob")
    mine = make_workflow(api, ada, '<script>alert("x")</script> & co')
    theirs = make_workflow(api, bob, "Bob's secret plan")
    with browser_of(api, ada) as browser:
        page = browser.get("/workflows").text
        assert listed_ids(page) == {mine["id"]}
        assert "Bob&#39;s secret plan" not in page and theirs["id"] not in page
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in page
        other = browser.get(f"/workflows/{theirs['id']}")
        assert other.status_code == 404
        assert other.headers["content-type"].startswith("text/html")
        assert "<h1>Not found</h1>" in other.text


def test_the_star_toggles_in_place_or_by_redirect(api: Api) -> None:
    ada = api.person("ada")
    workflow = make_workflow(api, ada, "Starred")
    path = f"/workflows/{workflow['id']}/favorite"
    with browser_of(api, ada) as browser:
        csrf = token(browser)
        fetch = {"X-Requested-With": "fetch"}
        starred = browser.post(path, data={"csrf_token": csrf, "favorite": "true"}, headers=fetch)
        assert starred.status_code == 200
        assert starred.json() == {"is_favorite": True}
        assert api.get(f"/api/workflows/{workflow['id']}", ada).json()["is_favorite"] is True
        back = "/workflows?favorites=true"
        plain = browser.post(path, data={"csrf_token": csrf, "favorite": "false", "back": back})
        assert (plain.status_code, plain.headers["location"]) == (303, back)
        assert api.get(f"/api/workflows/{workflow['id']}", ada).json()["is_favorite"] is False
        away = browser.post(path, data={"csrf_token": csrf, "back": "https://evil.com/"})
        assert away.headers["location"] == "/workflows"


def test_duplicate_and_delete_say_so_once(api: Api) -> None:
    ada = api.person("ada")
    workflow = make_workflow(api, ada, "Original")
    with browser_of(api, ada) as browser:
        csrf = token(browser)
        copied = browser.post(f"/workflows/{workflow['id']}/duplicate", data={"csrf_token": csrf})
        assert copied.status_code == 303
        copy_id = copied.headers["location"].removeprefix("/workflows/")
        assert copy_id != workflow["id"]
        first = browser.get(copied.headers["location"])
        assert first.status_code == 200
        assert notice_of(first.text) == "Made a copy: Original (copy)."
        assert notice_of(browser.get(copied.headers["location"]).text) is None
        deleted = browser.post(f"/workflows/{copy_id}/delete", data={"csrf_token": csrf})
        assert (deleted.status_code, deleted.headers["location"]) == (303, "/workflows")
        assert notice_of(browser.get("/workflows").text) == (
            "Deleted Original (copy) and its history."
        )
        assert notice_of(browser.get("/workflows").text) is None
    assert api.get(f"/api/workflows/{copy_id}", ada).status_code == 404
    assert [w["name"] for w in api.get("/api/workflows", ada).json()["items"]] == ["Original"]


# --- /templates ------------------------------------------------------------------------------


def _groups(page: str) -> dict[str, set[str]]:
    """Category -> the template ids listed under it."""
    groups = {}
    for chunk in page.split('<section class="category"')[1:]:
        name = re.search(r'<h2 id="cat-[^"]*">([^<]*)</h2>', chunk)
        assert name is not None
        groups[name.group(1)] = set(re.findall(r'data-template-id="([^"]+)"', chunk))
    return groups


def test_the_catalog_is_grouped_by_category_and_searchable(api: Api) -> None:
    with browser_of(api, api.person("ada")) as browser:
        groups = _groups(browser.get("/templates").text)
        assert {"monitoring", "approvals", "integrations"} <= set(groups)
        assert {"website-uptime-check", "uptime-email-alert"} <= groups["monitoring"]
        assert "webhook-relay" in groups["integrations"]
        assert sum(len(ids) for ids in groups.values()) == len(
            api.sql("SELECT id FROM workflow_templates WHERE is_active")
        )
        found = _groups(browser.get("/templates", params={"q": "uptime"}).text)
        assert "uptime-email-alert" in found["monitoring"]
        assert "webhook-relay" not in set().union(*found.values())
        one = _groups(browser.get("/templates", params={"category": "approvals"}).text)
        assert set(one) == {"approvals"}
        none = browser.get("/templates", params={"q": "zzz-nothing"}).text
        assert not _groups(none) and "No template matches" in none


def test_a_template_page_shows_goal_inputs_and_steps(api: Api) -> None:
    with browser_of(api, api.person("ada")) as browser:
        page = browser.get("/templates/website-uptime-check")
    assert page.status_code == 200
    assert "Check a list of pages at once" in page.text
    assert '<textarea id="in-urls" name="input.urls"' in page.text
    assert '<input id="in-threshold_ms" name="input.threshold_ms" value="2000"' in page.text
    checkbox = r'<input type="checkbox" name="input.fail_when_down" value="true"\s*>'
    assert re.search(checkbox, page.text)  # unticked: its default is false
    for step in ("check", "probe", "result", "summary", "fail_run"):
        assert f'data-step-id="{step}"' in page.text
    assert 'action="/templates/website-uptime-check/use"' in page.text


def test_using_a_template_makes_a_workflow_with_the_values(api: Api) -> None:
    ada = api.person("ada")
    with browser_of(api, ada) as browser:
        made = browser.post(
            "/templates/webhook-relay/use",
            data={
                "csrf_token": token(browser),
                "name": "  Billing relay ",
                "input.payload": '{"type": "invoice.paid"}',
                "input.event_types": '["invoice.paid"]',
                "input.target_url": "https://hooks.example.com/billing",
                "input.match_field": "",
            },
        )
        assert made.status_code == 303, made.text
        workflow_id = made.headers["location"].removeprefix("/workflows/")
        assert notice_of(browser.get(made.headers["location"]).text) == "Created Billing relay."
    workflow = api.get(f"/api/workflows/{workflow_id}", ada).json()
    assert workflow["name"] == "Billing relay"
    assert workflow["template_id"] == "webhook-relay"
    assert workflow["config"] == {
        "payload": {"type": "invoice.paid"},
        "event_types": ["invoice.paid"],
        "target_url": "https://hooks.example.com/billing",
    }


def test_bad_template_inputs_show_the_form_again_with_what_was_typed(api: Api) -> None:
    ada = api.person("ada")
    with browser_of(api, ada) as browser:
        form = {"csrf_token": token(browser), "name": "Relay"}
        typed = '{"type": "invoice.paid",'
        broken = browser.post(
            "/templates/webhook-relay/use",
            data={**form, "input.payload": typed, "input.target_url": "https://x.test/h"},
        )
        assert broken.status_code == 422
        assert "inputs.payload" in broken.text
        assert textarea(broken.text, "input.payload") == typed
        assert 'name="input.target_url" value="https://x.test/h"' in broken.text
        assert 'id="wf-name" name="name" value="Relay"' in broken.text
        # A config may leave inputs for the run, but what it gives must fit the type.
        wrong = browser.post(
            "/templates/website-uptime-check/use",
            data={**form, "input.urls": '["https://a.test"]', "input.threshold_ms": "soon"},
        )
        assert wrong.status_code == 422
        issues = re.findall(r'<ul class="issues" role="alert">(.*?)</ul>', wrong.text, re.S)
        assert issues and "config.threshold_ms: expected a whole number" in issues[0]
        assert 'name="input.threshold_ms" value="soon"' in wrong.text
    assert api.get("/api/workflows", ada).json()["items"] == []

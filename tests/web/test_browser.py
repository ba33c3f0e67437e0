"""The web UI in a real headless Chromium, as a person uses it.

Every wait is on something the page shows (Playwright's `expect` retries until it
holds), never a sleep. Each test's last view is saved in test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.web.conftest import INSTALL_HINT, PHONE, Site, sign_in

pytest.importorskip("playwright.sync_api", reason=f"browser tests need Playwright: {INSTALL_HINT}")
from playwright.sync_api import Page, expect  # only once it is known to be there

pytestmark = pytest.mark.browser

EXECUTION_URL = re.compile(r".*/executions/[0-9a-f-]{36}$")
WORKFLOW_URL = re.compile(r".*/workflows/[0-9a-f-]{36}$")


def test_sign_in_lands_on_an_empty_workflow_list_that_points_to_templates(
    page: Page, site: Site
) -> None:
    page.goto(site.url + "/workflows")
    expect(page).to_have_url(re.compile(r"/login\?next=/workflows$"))
    page.get_by_label("Email").fill(site.person.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The email or the password is wrong.")

    page.get_by_label("Password").fill(site.person.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(site.url + "/workflows")
    expect(page.get_by_role("heading", name="No workflows yet")).to_be_visible()
    page.get_by_role("link", name="Browse the templates").click()
    expect(page).to_have_url(site.url + "/templates")


def test_create_from_a_template_run_it_and_watch_it_succeed(page: Page, site: Site) -> None:
    sign_in(page, site, "/templates")
    page.get_by_placeholder("Search: uptime, webhook, approval…").fill("uptime")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Website uptime check").click()
    expect(page.locator('[data-step-id="check"]')).to_be_visible()  # the diagram

    page.get_by_label("Name").fill("Our sites")
    page.locator("#in-urls").fill(json.dumps([site.target.url + "/ok"]))
    page.get_by_role("button", name="Create workflow").click()
    expect(page).to_have_url(WORKFLOW_URL)
    expect(page.get_by_role("status")).to_have_text("Created Our sites.")

    page.get_by_role("button", name="Run now").click()
    expect(page).to_have_url(EXECUTION_URL)
    expect(page.locator("h1 .badge")).to_have_text("succeeded", timeout=30_000)
    lanes = page.locator(".timeline .lane")
    expect(lanes.first).to_have_attribute("data-path", "check")
    assert lanes.count() >= 4
    for status in lanes.evaluate_all("lanes => lanes.map(l => l.dataset.status)"):
        assert status in ("succeeded", "skipped")
    assert site.target.hits["/ok"] == 1

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Executions").click()
    expect(page.locator("#execution-list tbody tr").first).to_contain_text("Our sites")


def test_the_timeline_fills_in_live_while_the_execution_runs(page: Page, site: Site) -> None:
    workflow_id = site.workflow(
        {
            "steps": [
                {"id": "first", "type": "set", "with": {"a": 1}},
                {"id": "slow", "type": "http", "with": {"url": site.target.url + "/block/live"}},
                {"id": "last", "type": "log", "with": {"message": "done"}},
            ]
        },
        name="Live one",
    )
    sign_in(page, site, f"/workflows/{workflow_id}")
    page.get_by_role("button", name="Run now").click()
    expect(page).to_have_url(EXECUTION_URL)
    assert site.target.wait_entered("live")
    slow = page.locator('.timeline .lane[data-path="slow"]')
    expect(slow).to_have_attribute("data-status", "running")
    page.evaluate("window.__same_page = true")  # gone if the page were reloaded

    site.target.release("live")
    expect(page.locator("h1 .badge")).to_have_text("succeeded")
    expect(slow).to_have_attribute("data-status", "succeeded")
    expect(page.locator('.timeline .lane[data-path="last"]')).to_have_attribute(
        "data-status", "succeeded"
    )
    assert page.evaluate("window.__same_page") is True


def test_approve_a_waiting_step(page: Page, site: Site) -> None:
    sign_in(page, site, "/templates/approval-gated-request")
    page.get_by_label("Name").fill("Refunds")
    page.locator("#in-summary").fill("Refund order 1042")
    page.locator("#in-action_url").fill(site.target.url + "/refunds")
    page.get_by_role("button", name="Create workflow").click()
    expect(page).to_have_url(WORKFLOW_URL)
    page.get_by_role("button", name="Run now").click()
    expect(page).to_have_url(EXECUTION_URL)

    decision = page.get_by_role("heading", name="Wait for a decision is waiting for a decision")
    expect(decision).to_be_visible(timeout=30_000)
    assert site.target.hits["/refunds"] == 0
    page.get_by_label("Comment (optional)").fill("fine by me")
    page.get_by_role("button", name="Approve").click()

    expect(page.locator("h1 .badge")).to_have_text("succeeded", timeout=30_000)
    outputs = json.loads(page.locator("#outputs").inner_text())
    assert outputs["approved"] is True
    assert outputs["decided_by"] == "Ada"
    assert outputs["comment"] == "fine by me"
    assert site.target.hits["/refunds"] == 1


def test_an_invalid_definition_shows_its_error_at_its_line(page: Page, site: Site) -> None:
    workflow_id = site.workflow(
        {"steps": [{"id": "hello", "type": "log", "with": {"message": "hi"}}]}
    )
    sign_in(page, site, f"/workflows/{workflow_id}")
    broken = "\n".join(
        [
            "steps:",
            "- id: hello",
            "  type: log",
            "  with:",
            "    message: hi",
            "- id: fetch",
            "  type: http",
            "  with:",
            "    url: https://example.com",
            "    methd: GET",  # line 10: a typo
        ]
    )
    editor = page.get_by_label("Definition (YAML)")
    editor.fill(broken)
    # Checked as it is typed, before saving: line 10 is marked in the gutter.
    expect(page.locator('.gutter span[data-line="10"]')).to_have_class("bad")
    expect(page.locator("#editor-issues li").first).to_contain_text("Line 10")

    page.get_by_role("button", name="Save definition").click()
    expect(page.locator("#editor-issues li").first).to_contain_text("Line 10")
    expect(page.locator("#editor-issues li").first).to_contain_text("did you mean 'method'")
    expect(page.locator('.gutter span[data-line="10"]')).to_have_class("bad")
    assert "methd: GET" in editor.input_value()  # nothing typed is lost
    saved = site.api.get(f"/api/workflows/{workflow_id}", site.person).json()
    assert [step["id"] for step in saved["definition"]["steps"]] == ["hello"]

    editor.fill(broken.replace("methd", "method"))
    expect(page.locator("#editor-issues li")).to_have_count(0)
    page.get_by_role("button", name="Save definition").click()
    expect(page.get_by_role("status")).to_have_text("Definition saved.")
    saved = site.api.get(f"/api/workflows/{workflow_id}", site.person).json()
    assert [step["id"] for step in saved["definition"]["steps"]] == ["hello", "fetch"]


def test_favorite_toggles_in_place_by_mouse_and_keyboard(page: Page, site: Site) -> None:
    workflow_id = site.workflow({"steps": [{"id": "a", "type": "log", "with": {"message": "x"}}]})
    sign_in(page, site)
    page.evaluate("window.__same_page = true")
    star = page.get_by_role("button", name="Add to favorites: test workflow")
    star.click()
    starred = page.get_by_role("button", name="Remove from favorites: test workflow")
    expect(starred).to_have_attribute("aria-pressed", "true")
    assert site.api.get(f"/api/workflows/{workflow_id}", site.person).json()["is_favorite"]

    starred.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Add to favorites: test workflow")).to_be_visible()
    assert not site.api.get(f"/api/workflows/{workflow_id}", site.person).json()["is_favorite"]
    assert page.evaluate("window.__same_page") is True


def test_delete_asks_first(page: Page, site: Site) -> None:
    workflow_id = site.workflow({"steps": [{"id": "a", "type": "log", "with": {"message": "x"}}]})
    sign_in(page, site)
    card = page.locator(f'[data-workflow-id="{workflow_id}"]')

    page.once("dialog", lambda dialog: dialog.dismiss())
    card.get_by_role("button", name="Delete").click()
    expect(card).to_be_visible()
    assert site.api.get(f"/api/workflows/{workflow_id}", site.person).status_code == 200

    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_have_text("Deleted test workflow and its history.")
    expect(card).to_have_count(0)
    assert site.api.get(f"/api/workflows/{workflow_id}", site.person).status_code == 404


def test_pages_fit_a_phone_and_start_with_a_skip_link(page: Page, site: Site) -> None:
    workflow_id = site.workflow(
        {
            "steps": [
                {
                    "id": "both",
                    "type": "parallel",
                    "branches": {
                        "left": [{"id": "l", "type": "log", "with": {"message": "a long " * 20}}],
                        "right": [{"id": "r", "type": "set", "with": {"x": 1}}],
                    },
                }
            ]
        },
        name="A workflow with a rather long name to see how it wraps on a small screen",
    )
    run = site.api.post(
        f"/api/workflows/{workflow_id}/executions", site.person, params={"wait": 30}
    ).json()
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]  # a ViewportSize dict
    sign_in(page, site)
    for path in (
        "/workflows",
        "/templates",
        "/templates/approval-gated-request",
        f"/workflows/{workflow_id}",
        "/executions",
        f"/executions/{run['id']}",
    ):
        page.goto(site.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 390px"
    page.goto(site.url + "/workflows")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()

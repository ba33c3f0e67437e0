"""Web UI tests: the server with a worker, and (for browser tests) headless Chromium.

Browser tests drive Debian's Chromium through Playwright for Python — no browser
download. Without it they are skipped with a message that says how to install it.
Each browser test leaves a screenshot of its page in test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.api.conftest import Api, Person
from tests.engine.conftest import Target
from tests.engine.conftest import engine as engine
from tests.engine.conftest import target as target

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("FLOWDECK_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
INSTALL_HINT = (
    "install Debian's Chromium (`apt-get install chromium`, or set FLOWDECK_CHROMIUM) and "
    "the test extra (`pip install -e '.[test]'`, which brings playwright)"
)
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One headless Chromium per module (a new context, i.e. profile, per test).

    Not per session: Playwright's sync API keeps an event loop running in the main
    thread while it is open, which would break `asyncio.run` in every later test.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(f"browser tests need Playwright: {INSTALL_HINT}")
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}: {INSTALL_HINT}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@dataclass
class Site:
    """The running Flowdeck (with a worker), a person with an account, a local target."""

    url: str
    api: Api
    person: Person
    target: Target

    def workflow(self, definition: dict[str, Any], name: str = "test workflow") -> str:
        """Create a workflow through the API; its id."""
        made = self.api.post(
            "/api/workflows", self.person, json={"name": name, "definition": definition}
        )
        assert made.status_code == 201, made.json()
        return str(made.json()["id"])


@pytest.fixture
def site(engine: Api, target: Target) -> Site:
    return Site(str(engine.client.base_url).rstrip("/"), engine, engine.person("ada"), target)


def _slug(node_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node_id.split("::")[-1])


@pytest.fixture
def page(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser profile at laptop size; its last view is saved as a screenshot."""
    context = chromium.new_context(viewport=LAPTOP)  # type: ignore[arg-type]  # a ViewportSize dict
    context.set_default_timeout(20_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    # What the Content-Security-Policy refused (an inline script or style) is reported on
    # the console; it would be a page that looks or works wrong in every browser.
    refused: list[str] = []
    tab.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        yield tab
        assert not errors, f"the page's script failed: {errors}"
        assert not refused, f"the Content-Security-Policy refused: {refused}"
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"{_slug(request.node.nodeid)}.png"), full_page=True)
        context.close()


def sign_in(page: Page, site: Site, goal: str = "/workflows") -> None:
    """Sign in through the form, as a person would, starting from `goal`."""
    page.goto(site.url + goal)
    page.get_by_label("Email").fill(site.person.email)
    page.get_by_label("Password").fill(site.person.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url + goal)

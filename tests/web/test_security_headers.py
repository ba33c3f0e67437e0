"""Every page is sent with its security headers and runs no inline script; API answers
are sent with nosniff. The pages are found by following their links, as a person would."""

from __future__ import annotations

import re

from flowdeck.web.headers import CONTENT_SECURITY_POLICY
from tests.api.conftest import Api
from tests.engine.conftest import engine as engine
from tests.web.test_pages import SIMPLE, browser_of, make_workflow

_LINK = re.compile(r'(?:href|data-live|action)="(/[^"]*)"')
_TAG = re.compile(r"<[a-zA-Z][^>]*>")
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
NOT_PAGES = ("/static/", "/api/", "/hooks/", "/logout")


def inline_script_in(page: str) -> list[str]:
    """Every way a page would run script of its own: <script> without src, on*= handlers,
    javascript: URLs."""
    found = _INLINE_SCRIPT.findall(page)
    found += [tag for tag in _TAG.findall(page) if _HANDLER.search(tag)]
    found += re.findall(r'(?:href|src|action)="\s*javascript:[^"]*"', page, re.IGNORECASE)
    return found


def assert_page_headers(headers: dict[str, str], where: str) -> None:
    policy = headers.get("content-security-policy", "")
    assert policy == CONTENT_SECURITY_POLICY, where
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy.split("style-src-attr")[0], where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") == "same-origin", where
    assert headers.get("x-frame-options") == "DENY", where


def test_every_page_has_the_headers_and_no_inline_script(engine: Api) -> None:
    ada = engine.person("ada")
    workflow = make_workflow(engine, ada, "headers", definition=SIMPLE)
    run = engine.post(
        f"/api/workflows/{workflow['id']}/executions", ada, params={"wait": 30}
    ).json()
    with browser_of(engine) as anonymous:
        login = anonymous.get("/login")
        assert_page_headers(dict(login.headers), "/login")
        assert not inline_script_in(login.text)
    seen: set[str] = set()
    with browser_of(engine, ada) as browser:
        queue = ["/workflows", f"/executions/{run['id']}", "/no-such-page"]
        while queue and len(seen) < 80:
            path = queue.pop(0).split("#")[0]
            if path in seen or path.startswith(NOT_PAGES):
                continue
            seen.add(path)
            answer = browser.get(path, headers={"Accept": "text/html"})
            if answer.status_code in (301, 302, 303, 307):
                queue.append(answer.headers["location"])
                continue
            assert_page_headers(dict(answer.headers), path)
            assert not inline_script_in(answer.text), f"{path} has inline script"
            queue += [link.replace("&amp;", "&") for link in _LINK.findall(answer.text)]
    expected = {"/workflows", "/templates", "/executions", f"/workflows/{workflow['id']}"}
    assert expected <= seen, f"the crawl missed pages: {expected - seen}"
    assert f"/executions/{run['id']}" in seen


def test_api_answers_are_nosniff(engine: Api) -> None:
    ada = engine.person("ada")
    for answer in (
        engine.get("/api/me", ada),
        engine.get("/api/me"),
        engine.get("/api/nothing-here", ada),
        engine.client.get("/static/app.js"),
    ):
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
    assert "content-security-policy" not in engine.get("/api/me", ada).headers

"""The catalog through HTTP: browse, search, page, and the admin's changes."""

from __future__ import annotations

from typing import Any

from flowdeck.catalog.loader import load_builtin_templates
from tests.api.conftest import Api, error_of

BUILTINS = load_builtin_templates()

NEW_TEMPLATE: dict[str, Any] = {
    "id": "ping-endpoint",
    "name": "Ping an endpoint",
    "category": "monitoring",
    "goal": "Call a URL and report its status.",
    "inputs": {"url": {"type": "string", "description": "What to call"}},
    "steps": [{"id": "ping", "type": "http", "with": {"url": "{{ inputs.url }}"}}],
    "outputs": {"status": "{{ steps.ping.output.status }}"},
}


def _all_pages(api: Api, who: Any, path: str, **query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": 3, **query, **({"cursor": cursor} if cursor else {})}
        body = api.get(path, who, params=params).json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def test_the_catalog_lists_every_builtin(api: Api) -> None:
    ada = api.person("ada")
    listed = _all_pages(api, ada, "/api/templates")
    assert sorted(t["id"] for t in listed) == sorted(t.id for t in BUILTINS)
    assert len(listed) >= 12
    assert all(t["builtin"] and t["is_active"] for t in listed)
    assert "steps" not in listed[0]  # summaries only; GET one for its steps


def test_categories_come_with_counts(api: Api) -> None:
    body = api.get("/api/templates/categories", api.person("ada")).json()
    expected: dict[str, int] = {}
    for template in BUILTINS:
        expected[template.category] = expected.get(template.category, 0) + 1
    assert {c["category"]: c["count"] for c in body} == expected
    assert len(body) >= 5


def test_filter_by_category(api: Api) -> None:
    category = BUILTINS[0].category
    items = api.get("/api/templates", api.person("ada"), params={"category": category}).json()[
        "items"
    ]
    assert items and {t["category"] for t in items} == {category}


def test_search_matches_words_and_prefixes_of_name_goal_and_category(api: Api) -> None:
    ada = api.person("ada")
    uptime = api.get("/api/templates", ada, params={"q": "uptime"}).json()["items"]
    assert "website-uptime-check" in [t["id"] for t in uptime]
    prefix = api.get("/api/templates", ada, params={"q": "upti"}).json()["items"]
    assert [t["id"] for t in prefix] == [t["id"] for t in uptime]
    nothing = api.get("/api/templates", ada, params={"q": "zzyzx"}).json()
    assert nothing == {"items": [], "next_cursor": None}
    punctuation = api.get("/api/templates", ada, params={"q": "&|!:*"}).json()
    assert punctuation == {"items": [], "next_cursor": None}


def test_sort_by_popularity_then_by_name(api: Api) -> None:
    ada = api.person("ada")
    api.sql("UPDATE workflow_templates SET usage_count = 7 WHERE id = 'fan-out-requests'")
    popular = api.get("/api/templates", ada).json()["items"]
    assert popular[0]["id"] == "fan-out-requests"
    by_name = _all_pages(api, ada, "/api/templates", sort="name")
    names = [t["name"] for t in by_name]
    assert names == sorted(names)


def test_pages_by_popularity_neither_skip_nor_repeat(api: Api) -> None:
    ada = api.person("ada")
    api.sql("UPDATE workflow_templates SET usage_count = length(id) % 3")
    listed = _all_pages(api, ada, "/api/templates")
    assert len(listed) == len({t["id"] for t in listed}) == len(BUILTINS)
    keys = [(-t["usage_count"], t["id"]) for t in listed]
    assert keys == sorted(keys)


def test_a_bad_cursor_is_400(api: Api) -> None:
    response = api.get("/api/templates", api.person("ada"), params={"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_cursor"


def test_get_one_template_with_its_definition(api: Api) -> None:
    body = api.get("/api/templates/website-uptime-check", api.person("ada")).json()
    builtin = next(t for t in BUILTINS if t.id == "website-uptime-check")
    assert body["steps"] == builtin.steps
    assert body["inputs"] == builtin.inputs
    assert body["goal"] == builtin.goal


def test_an_unknown_template_is_404(api: Api) -> None:
    response = api.get("/api/templates/no-such-thing", api.person("ada"))
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_admins_create_update_and_delete_templates(api: Api) -> None:
    root = api.person("root", admin=True)
    created = api.post("/api/templates", root, json=NEW_TEMPLATE)
    assert created.status_code == 201, created.json()
    assert created.json()["builtin"] is False
    again = api.post("/api/templates", root, json=NEW_TEMPLATE)
    assert again.status_code == 409
    patched = api.patch(
        "/api/templates/ping-endpoint", root, json={"name": "Ping it", "is_active": False}
    )
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["is_active"]) == ("Ping it", False)
    listed = api.get("/api/templates", root, params={"active": "false"}).json()["items"]
    assert [t["id"] for t in listed] == ["ping-endpoint"]
    assert api.delete("/api/templates/ping-endpoint", root).status_code == 204
    assert api.get("/api/templates/ping-endpoint", root).status_code == 404


def test_an_invalid_template_is_422_with_paths(api: Api) -> None:
    root = api.person("root", admin=True)
    bad = {**NEW_TEMPLATE, "steps": [{"id": "ping", "type": "htp", "with": {}}]}
    response = api.post("/api/templates", root, json=bad)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_failed"
    assert [d["path"] for d in error["details"]] == ["steps[0].type"]
    bad_patch = api.patch(
        "/api/templates/fan-out-requests", root, json={"steps": [{"type": "log"}]}
    )
    assert bad_patch.status_code == 422
    assert any(d["path"].startswith("steps[0]") for d in error_of(bad_patch)["details"])


def test_a_template_with_direct_executions_is_deactivated_not_deleted(api: Api) -> None:
    root = api.person("root", admin=True)
    api.sql(
        "INSERT INTO workflow_executions (user_id, template_id, status) "
        "VALUES (%s, 'fan-out-requests', 'succeeded')",
        root.id,
    )
    response = api.delete("/api/templates/fan-out-requests", root)
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "template_in_use"
    assert "deactivated" in error["message"]
    assert api.get("/api/templates/fan-out-requests", root).json()["is_active"] is False


def test_deleting_a_template_keeps_its_workflows_with_no_template(api: Api) -> None:
    root, ada = api.person("root", admin=True), api.person("ada")
    made = api.post("/api/templates/fan-out-requests/workflows", ada, json={})
    assert made.status_code == 201, made.json()
    assert api.delete("/api/templates/fan-out-requests", root).status_code == 204
    kept = api.get(f"/api/workflows/{made.json()['id']}", ada)
    assert kept.status_code == 200
    assert kept.json()["template_id"] is None
    assert kept.json()["definition"] == made.json()["definition"]


def test_only_admins_change_the_catalog(api: Api) -> None:
    ada = api.person("ada")
    for response in (
        api.post("/api/templates", ada, json=NEW_TEMPLATE),
        api.patch("/api/templates/fan-out-requests", ada, json={"name": "Mine now"}),
        api.delete("/api/templates/fan-out-requests", ada),
    ):
        assert response.status_code == 403
        assert error_of(response)["code"] == "forbidden"
    assert api.get("/api/templates/fan-out-requests", ada).json()["name"] != "Mine now"

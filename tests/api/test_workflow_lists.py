"""Listing my workflows: filters, sorts, keyset pages that hold while rows are inserted,
and concurrent use of one template."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.api.conftest import Api, Person, error_of

MINIMAL: dict[str, Any] = {"steps": [{"id": "hello", "type": "log", "with": {"message": "hi"}}]}


def _make(api: Api, who: Person, name: str, **extra: Any) -> dict[str, Any]:
    response = api.post("/api/workflows", who, json={"name": name, "definition": MINIMAL, **extra})
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


def _names(body: dict[str, Any]) -> list[str]:
    return [item["name"] for item in body["items"]]


def test_an_empty_list_is_a_page_not_an_error(api: Api) -> None:
    response = api.get("/api/workflows", api.person("ada"))
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


def test_only_my_workflows_are_listed(api: Api) -> None:
    ada, bob = api.person("ada"), api.person("bob")
    _make(api, ada, "Ada's")
    _make(api, bob, "Bob's")
    assert _names(api.get("/api/workflows", ada).json()) == ["Ada's"]
    assert _names(api.get("/api/workflows", bob).json()) == ["Bob's"]


def test_filters_by_category_favorite_active_and_text(api: Api) -> None:
    ada = api.person("ada")
    _make(api, ada, "Nightly report", category="reporting", is_favorite=True)
    _make(api, ada, "Uptime 100%", category="monitoring", description="Checks pages")
    _make(api, ada, "Old sync", category="monitoring", is_active=False)

    def names(**params: Any) -> list[str]:
        return sorted(_names(api.get("/api/workflows", ada, params=params).json()))

    assert names(category="monitoring") == ["Old sync", "Uptime 100%"]
    assert names(favorite=True) == ["Nightly report"]
    assert names(active=False) == ["Old sync"]
    assert names(q="REPORT") == ["Nightly report"]
    assert names(q="pages") == ["Uptime 100%"]  # description too
    assert names(q="100%") == ["Uptime 100%"]  # % is literal, not a wildcard
    assert names(q="_") == []


def test_sorts_by_updated_at_name_and_last_used(api: Api) -> None:
    ada = api.person("ada")
    first, second, third = (_make(api, ada, name) for name in ("Bravo", "Charlie", "Alpha"))
    assert _names(api.get("/api/workflows", ada).json()) == ["Alpha", "Charlie", "Bravo"]
    assert _names(api.get("/api/workflows", ada, params={"sort": "name"}).json()) == [
        "Alpha",
        "Bravo",
        "Charlie",
    ]
    api.sql(
        "UPDATE user_workflows SET last_used = now() - interval '1 day' WHERE id = %s", first["id"]
    )
    api.sql("UPDATE user_workflows SET last_used = now() WHERE id = %s", second["id"])
    by_use = api.get("/api/workflows", ada, params={"sort": "last_used"}).json()
    assert _names(by_use) == ["Charlie", "Bravo", "Alpha"]  # never used: last
    assert third["last_used"] is None


@pytest.mark.parametrize("sort", ["updated_at", "name", "last_used"])
def test_pages_neither_skip_nor_repeat_while_rows_are_inserted(api: Api, sort: str) -> None:
    ada = api.person("ada")
    originals = {_make(api, ada, f"wf {i:02d}")["id"] for i in range(23)}
    # Half of them used, with ties, so that the last_used order needs its tiebreaker.
    api.sql(
        "UPDATE user_workflows SET last_used = date_trunc('hour', now()) "
        "- (abs(hashtext(id::text)) % 3) * interval '1 hour' WHERE abs(hashtext(id::text)) % 2 = 0"
    )
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {
            "limit": 5,
            "sort": sort,
            **({"cursor": cursor} if cursor else {}),
        }
        body = api.get("/api/workflows", ada, params=params).json()
        seen.extend(item["id"] for item in body["items"])
        pages += 1
        _make(api, ada, f"inserted during page {pages}")  # lands before the cursor
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert originals <= set(seen), "a row was skipped"
    assert pages >= 5


def test_limit_is_bounded(api: Api) -> None:
    ada = api.person("ada")
    response = api.get("/api/workflows", ada, params={"limit": 0})
    assert response.status_code == 422
    assert error_of(response)["details"][0]["path"] == "query.limit"
    assert api.get("/api/workflows", ada, params={"limit": 1000}).status_code == 422


def test_a_forged_cursor_is_400(api: Api) -> None:
    ada = api.person("ada")
    import base64

    forged = base64.urlsafe_b64encode(b'["2024-01-01", "not-a-uuid"]').decode().rstrip("=")
    for cursor in ("garbage", forged):
        response = api.get("/api/workflows", ada, params={"cursor": cursor})
        assert response.status_code == 400, cursor
        assert error_of(response)["code"] == "invalid_cursor"


def test_twenty_concurrent_instantiations_count_twenty(api: Api) -> None:
    people = [api.person(f"user{i}") for i in range(4)]
    before = api.get("/api/templates/fan-out-requests", people[0]).json()["usage_count"]

    def instantiate(i: int) -> int:
        who = people[i % len(people)]
        response = api.post(
            "/api/templates/fan-out-requests/workflows", who, json={"name": f"fan {i}"}
        )
        return int(response.status_code)

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(instantiate, range(20)))
    assert codes == [201] * 20
    after = api.get("/api/templates/fan-out-requests", people[0]).json()["usage_count"]
    assert after == before + 20
    made = api.sql(
        "SELECT count(*) AS n FROM user_workflows WHERE template_id = 'fan-out-requests'"
    )
    assert made == [{"n": 20}]

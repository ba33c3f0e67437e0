"""Schedules: fire times across daylight-saving changes, the triggers API, and the
scheduler (exactly once across schedulers, catch-up after a downtime)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb

from flowdeck.db.queries import fetch_row, query
from flowdeck.engine.scheduler import fire_due
from flowdeck.triggers.schedule import ScheduleError, next_fire_times
from flowdeck.users import service
from flowdeck.users.credentials import digest
from tests.api.conftest import Api, error_of
from tests.api.conftest import api as api
from tests.engine.conftest import engine as engine
from tests.engine.conftest import wait_for_final

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MINIMAL: dict[str, Any] = {"steps": [{"id": "hello", "type": "log", "with": {"message": "hi"}}]}
WITH_INPUT: dict[str, Any] = {
    "inputs": {"name": {"type": "string", "default": "world"}, "count": {"type": "integer"}},
    "steps": MINIMAL["steps"],
}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- fire times --------------------------------------------------------------------------


def test_a_time_in_the_spring_forward_gap_fires_once_when_the_gap_ends() -> None:
    # 2026-03-29, Europe/Berlin: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
    times = next_fire_times("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12), 3)
    assert times == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30)]
    gap_day = times[0].astimezone(BERLIN)
    assert (gap_day.hour, gap_day.minute, gap_day.tzname()) == (3, 0, "CEST")
    assert all(t.tzinfo is UTC for t in times)


def test_every_time_in_the_gap_lands_on_one_instant_fired_once() -> None:
    times = next_fire_times("*/10 * * * *", "Europe/Berlin", utc(2026, 3, 29, 0, 30), 8)
    # 01:40, 01:50 CET, then 02:00..02:50 (absent) and 03:00 CEST are all 01:00 UTC: once.
    assert times[:4] == [
        utc(2026, 3, 29, 0, 40),
        utc(2026, 3, 29, 0, 50),
        utc(2026, 3, 29, 1, 0),
        utc(2026, 3, 29, 1, 10),
    ]
    assert len(set(times)) == len(times) == 8
    assert times == sorted(times)


def test_a_time_that_occurs_twice_on_fall_back_fires_once_at_its_first_occurrence() -> None:
    # 2026-11-01, America/New_York: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    times = next_fire_times("30 1 * * *", "America/New_York", utc(2026, 10, 31, 12), 3)
    assert times == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), utc(2026, 11, 3, 6, 30)]
    first = times[0].astimezone(NEW_YORK)
    assert (first.hour, first.minute, first.tzname()) == (1, 30, "EDT")
    # Between the two occurrences the next time is the next day's, not the second 01:30.
    between = next_fire_times("30 1 * * *", "America/New_York", utc(2026, 11, 1, 5, 45), 1)
    assert between == [utc(2026, 11, 2, 6, 30)]


def test_a_normal_day_in_two_zones() -> None:
    # Monday 2026-06-01: 09:00 on weekdays, in summer time in both zones.
    berlin = next_fire_times("0 9 * * 1-5", "Europe/Berlin", utc(2026, 6, 1), 6)
    assert berlin[:5] == [utc(2026, 6, day, 7) for day in range(1, 6)]
    assert berlin[5] == utc(2026, 6, 8, 7)  # the weekend is skipped
    new_york = next_fire_times("0 9 * * *", "America/New_York", utc(2026, 6, 1), 2)
    assert new_york == [utc(2026, 6, 1, 13), utc(2026, 6, 2, 13)]
    assert next_fire_times("@hourly", "UTC", utc(2026, 6, 1, 0, 30), 2) == [
        utc(2026, 6, 1, 1),
        utc(2026, 6, 1, 2),
    ]


@pytest.mark.parametrize(
    ("cron", "timezone", "field"),
    [
        ("* * * *", "UTC", "cron"),
        ("0 0 0 * * *", "UTC", "cron"),
        ("61 * * * *", "UTC", "cron"),
        ("0 0 30 2 *", "UTC", "cron"),
        ("* * * * *", "Mars/Olympus", "timezone"),
        ("* * * * *", "../etc/passwd", "timezone"),
        ("* * * * *", "", "timezone"),
    ],
)
def test_bad_cron_and_time_zones_are_refused_with_what_is_wrong(
    cron: str, timezone: str, field: str
) -> None:
    with pytest.raises(ScheduleError) as caught:
        next_fire_times(cron, timezone, utc(2026, 1, 1), 1)
    assert caught.value.field == field
    assert caught.value.message


# --- the API -----------------------------------------------------------------------------


def _workflow(api: Api, who: Any, definition: dict[str, Any] = MINIMAL) -> str:
    created = api.post("/api/workflows", who, json={"name": "w", "definition": definition})
    assert created.status_code == 201, created.text
    workflow_id: str = created.json()["id"]
    return workflow_id


def test_a_schedule_shows_its_next_five_fire_times(api: Api) -> None:
    ada = api.person("ada")
    workflow = _workflow(api, ada)
    created = api.post(
        f"/api/workflows/{workflow}/triggers",
        ada,
        json={"type": "schedule", "cron": "30 2 * * *", "timezone": "Europe/Berlin"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["catch_up"] == "once" and body["is_active"] is True
    assert body["url"] is None and body["signing_secret"] is None
    listed = api.get(f"/api/workflows/{workflow}/triggers", ada)
    assert listed.status_code == 200
    [trigger] = listed.json()
    times = [datetime.fromisoformat(t) for t in trigger["next_fire_times"]]
    assert len(times) == 5 and times == sorted(times)
    assert datetime.fromisoformat(trigger["next_fire_at"]) == times[0]
    assert times[0] > datetime.now(UTC)
    assert all(t.astimezone(BERLIN).minute in (0, 30) for t in times)
    again = api.get(f"/api/triggers/{trigger['id']}", ada).json()
    assert again["next_fire_times"] == trigger["next_fire_times"]
    changed = api.patch(f"/api/triggers/{trigger['id']}", ada, json={"cron": "0 12 * * *"})
    assert changed.status_code == 200, changed.text
    assert all(
        datetime.fromisoformat(t).astimezone(BERLIN).hour == 12
        for t in changed.json()["next_fire_times"]
    )


def test_bad_cron_and_time_zone_are_422_with_paths(api: Api) -> None:
    ada = api.person("ada")
    workflow = _workflow(api, ada)
    response = api.post(
        f"/api/workflows/{workflow}/triggers",
        ada,
        json={"type": "schedule", "cron": "* * *", "timezone": "Nowhere/Town"},
    )
    assert response.status_code == 422
    error = error_of(response)
    assert [d["path"] for d in error["details"]] == ["cron", "timezone"]
    missing = api.post(f"/api/workflows/{workflow}/triggers", ada, json={"type": "schedule"})
    assert missing.status_code == 422
    assert [d["path"] for d in error_of(missing)["details"]] == ["cron"]
    trigger = api.post(
        f"/api/workflows/{workflow}/triggers", ada, json={"type": "schedule", "cron": "0 * * * *"}
    ).json()
    patched = api.patch(f"/api/triggers/{trigger['id']}", ada, json={"timezone": "Utopia"})
    assert patched.status_code == 422
    assert [d["path"] for d in error_of(patched)["details"]] == ["timezone"]


def test_inputs_are_checked_against_the_declared_inputs(api: Api) -> None:
    ada = api.person("ada")
    workflow = _workflow(api, ada, WITH_INPUT)
    response = api.post(
        f"/api/workflows/{workflow}/triggers",
        ada,
        json={"type": "schedule", "cron": "0 * * * *", "inputs": {"count": "many", "nope": 1}},
    )
    assert response.status_code == 422
    paths = sorted(d["path"] for d in error_of(response)["details"])
    assert paths == ["inputs.count", "inputs.nope"]
    good = api.post(
        f"/api/workflows/{workflow}/triggers",
        ada,
        json={"type": "schedule", "cron": "0 * * * *", "inputs": {"count": "3"}},
    )
    assert good.status_code == 201, good.text
    assert good.json()["inputs"] == {"count": 3}


def test_a_webhook_shows_its_url_and_signing_secret_once(api: Api) -> None:
    ada = api.person("ada")
    workflow = _workflow(api, ada)
    created = api.post(f"/api/workflows/{workflow}/triggers", ada, json={"type": "webhook"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["url"].startswith("/hooks/") and body["signing_secret"]
    assert body["signed"] is True and body["rate_limit_per_minute"] == 60
    assert body["next_fire_times"] is None
    token = body["url"].removeprefix("/hooks/")
    [row] = api.sql(
        "SELECT token_hash, signing_secret_encrypted FROM workflow_triggers WHERE id = %s",
        body["id"],
    )
    assert row["token_hash"] == digest(token)
    assert body["signing_secret"] not in row["signing_secret_encrypted"]
    again = api.get(f"/api/triggers/{body['id']}", ada).json()
    assert "url" not in again and "signing_secret" not in again
    unsigned = api.post(
        f"/api/workflows/{workflow}/triggers",
        ada,
        json={"type": "webhook", "signed": False, "rate_limit_per_minute": 5},
    ).json()
    assert unsigned["signed"] is False and unsigned["signing_secret"] is None
    assert unsigned["rate_limit_per_minute"] == 5


def test_another_users_trigger_is_404(api: Api) -> None:
    ada, bob = api.person("ada"), api.person("bob")
    workflow = _workflow(api, ada)
    trigger = api.post(
        f"/api/workflows/{workflow}/triggers", ada, json={"type": "schedule", "cron": "0 * * * *"}
    ).json()
    assert api.get(f"/api/triggers/{trigger['id']}", bob).status_code == 404
    assert api.patch(f"/api/triggers/{trigger['id']}", bob, json={}).status_code == 404
    assert api.delete(f"/api/triggers/{trigger['id']}", bob).status_code == 404
    assert api.get(f"/api/workflows/{workflow}/triggers", bob).status_code == 404
    assert (
        api.post(f"/api/workflows/{workflow}/triggers", bob, json={"type": "webhook"}).status_code
        == 404
    )
    assert api.get(f"/api/triggers/{trigger['id']}", ada).status_code == 200
    assert api.delete(f"/api/triggers/{trigger['id']}", ada).status_code == 204
    assert api.get(f"/api/triggers/{trigger['id']}", ada).status_code == 404


def test_deleting_the_workflow_deletes_its_triggers(api: Api) -> None:
    ada = api.person("ada")
    workflow = _workflow(api, ada)
    for body in ({"type": "schedule", "cron": "0 * * * *"}, {"type": "webhook"}):
        assert api.post(f"/api/workflows/{workflow}/triggers", ada, json=body).status_code == 201
    count = "SELECT count(*) AS n FROM workflow_triggers WHERE user_workflow_id = %s"
    assert api.sql(count, workflow)[0]["n"] == 2
    assert api.delete(f"/api/workflows/{workflow}", ada).status_code == 204
    assert api.sql(count, workflow)[0]["n"] == 0


# --- the scheduler -----------------------------------------------------------------------

Conn = AsyncConnection[DictRow]


async def _connect(db_url: str) -> Conn:
    return await AsyncConnection.connect(db_url, autocommit=True, row_factory=dict_row)


async def _schedule(
    conn: Conn,
    *,
    cron: str,
    catch_up: str,
    next_fire_at: datetime,
    email: str = "ada@example.com",
) -> tuple[UUID, UUID]:
    """A user with a workflow and a schedule of it; (workflow id, trigger id)."""
    user = await service.create_user(conn, email, display_name="Ada", password="ada-pass-1234")
    cur = await conn.execute(
        query("workflows", "create"),
        {
            "user_id": user.id,
            "template_id": None,
            "name": "scheduled",
            "description": None,
            "category": None,
            "definition": Jsonb(MINIMAL),
            "config": Jsonb({}),
            "is_active": True,
            "is_favorite": False,
        },
    )
    workflow_id: UUID = (await fetch_row(cur))["id"]
    cur = await conn.execute(
        query("triggers", "create"),
        {
            "workflow_id": workflow_id,
            "user_id": user.id,
            "type": "schedule",
            "inputs": Jsonb({}),
            "is_active": True,
            "cron": cron,
            "timezone": "UTC",
            "catch_up": catch_up,
            "next_fire_at": next_fire_at,
            "token_hash": None,
            "signing_secret_encrypted": None,
            "rate_limit_per_minute": 60,
        },
    )
    trigger_id: UUID = (await fetch_row(cur))["id"]
    return workflow_id, trigger_id


async def _executions(conn: Conn, workflow_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(
        b"SELECT id, trigger, idempotency_key FROM workflow_executions WHERE user_workflow_id = %s",
        (workflow_id,),
    )
    return await cur.fetchall()


async def _trigger_row(conn: Conn, trigger_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(
        b"SELECT next_fire_at, last_fired_at FROM workflow_triggers WHERE id = %s", (trigger_id,)
    )
    return await fetch_row(cur)


@pytest.mark.parametrize(("catch_up", "expected"), [("all", 6), ("once", 1)])
def test_three_schedulers_at_once_start_each_due_time_exactly_once(
    db_url: str, catch_up: str, expected: int
) -> None:
    async def scenario() -> None:
        now = datetime.now(UTC)
        async with await _connect(db_url) as conn:
            workflow_id, trigger_id = await _schedule(
                conn, cron="*/10 * * * *", catch_up=catch_up, next_fire_at=now - timedelta(hours=1)
            )
        schedulers = [await _connect(db_url) for _ in range(3)]
        try:
            for _ in range(3):
                started = await asyncio.gather(*(fire_due(c, now) for c in schedulers))
                if sum(started):
                    assert sum(started) == expected and sorted(started)[:2] == [0, 0]
        finally:
            for c in schedulers:
                await c.close()
        async with await _connect(db_url) as conn:
            executions = await _executions(conn, workflow_id)
            assert len(executions) == expected
            assert {str(e["trigger"]) for e in executions} == {"schedule"}
            keys = {e["idempotency_key"] for e in executions}
            assert len(keys) == expected
            assert all(k.startswith(f"schedule:{trigger_id}:") for k in keys)
            cur = await conn.execute(
                b"SELECT fire_at, execution_id FROM trigger_fires WHERE trigger_id = %s",
                (trigger_id,),
            )
            fires = await cur.fetchall()
            assert len(fires) == expected
            assert {f["execution_id"] for f in fires} == {e["id"] for e in executions}
            assert (await _trigger_row(conn, trigger_id))["next_fire_at"] > now

    asyncio.run(scenario())


@pytest.mark.parametrize(("catch_up", "expected"), [("skip", 0), ("once", 1), ("all", 6)])
def test_catch_up_after_a_downtime(db_url: str, catch_up: str, expected: int) -> None:
    async def scenario() -> None:
        now = datetime.now(UTC)
        async with await _connect(db_url) as conn:
            workflow_id, trigger_id = await _schedule(
                conn, cron="*/10 * * * *", catch_up=catch_up, next_fire_at=now - timedelta(hours=1)
            )
            assert await fire_due(conn, now) == expected
            assert len(await _executions(conn, workflow_id)) == expected
            row = await _trigger_row(conn, trigger_id)
            assert now < row["next_fire_at"] <= now + timedelta(minutes=10)
            assert row["next_fire_at"].minute % 10 == 0
            if expected:
                assert now - timedelta(minutes=10) < row["last_fired_at"] <= now
            else:
                assert row["last_fired_at"] is None
            assert await fire_due(conn, now) == 0  # nothing is due any more

    asyncio.run(scenario())


def test_a_workflow_that_cannot_start_does_not_stop_the_others(db_url: str) -> None:
    async def scenario() -> None:
        now = datetime.now(UTC)
        past = now - timedelta(minutes=1)
        async with await _connect(db_url) as conn:
            broken, broken_trigger = await _schedule(
                conn, cron="* * * * *", catch_up="once", next_fire_at=past
            )
            fine, fine_trigger = await _schedule(
                conn,
                cron="* * * * *",
                catch_up="once",
                next_fire_at=past,
                email="bob@example.com",
            )
            await conn.execute(
                b"UPDATE user_workflows SET is_active = false WHERE id = %s", (broken,)
            )
            assert await fire_due(conn, now) == 1
            assert len(await _executions(conn, broken)) == 0
            assert len(await _executions(conn, fine)) == 1
            cur = await conn.execute(
                b"SELECT execution_id FROM trigger_fires WHERE trigger_id = %s", (broken_trigger,)
            )
            assert [row["execution_id"] for row in await cur.fetchall()] == [None]  # recorded
            for trigger_id in (broken_trigger, fine_trigger):
                assert (await _trigger_row(conn, trigger_id))["next_fire_at"] > now

    asyncio.run(scenario())


def test_the_workers_maintenance_loop_fires_due_schedules(engine: Api) -> None:
    ada = engine.person("ada")
    workflow = _workflow(engine, ada)
    trigger = engine.post(
        f"/api/workflows/{workflow}/triggers",
        ada,
        json={"type": "schedule", "cron": "* * * * *", "catch_up": "once"},
    ).json()
    engine.sql(
        "UPDATE workflow_triggers SET next_fire_at = now() - interval '1 minute' WHERE id = %s",
        trigger["id"],
    )
    ids = [row["id"] for row in engine.sql(_FIRED, trigger["id"])]
    deadline = time.monotonic() + 30
    while not ids and time.monotonic() < deadline:
        time.sleep(0.1)
        ids = [row["id"] for row in engine.sql(_FIRED, trigger["id"])]
    assert len(ids) == 1
    assert wait_for_final(engine.db_url, ids) == {ids[0]: "succeeded"}


_FIRED = (
    "SELECT e.id FROM trigger_fires f JOIN workflow_executions e ON e.id = f.execution_id"
    " WHERE f.trigger_id = %s"
)

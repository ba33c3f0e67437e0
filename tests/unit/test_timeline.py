"""The execution timeline's geometry, and the page's words for times and durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flowdeck.humanize import took
from flowdeck.web.render import ago, duration
from flowdeck.web.timeline import MIN_WIDTH, build

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def step(
    path: str,
    status: str,
    started: float | None,
    finished: float | None,
    step_type: str = "set",
) -> dict[str, Any]:
    return {
        "path": path,
        "step_id": path.rsplit(".", 1)[-1].split("[")[0],
        "step_type": step_type,
        "status": status,
        "started_at": None if started is None else at(started),
        "finished_at": None if finished is None else at(finished),
    }


def test_bars_are_percentages_of_the_execution_span() -> None:
    line = build(
        {"started_at": at(0), "finished_at": at(10)},
        [step("a", "succeeded", 0, 2), step("b", "succeeded", 2, 10)],
    )
    assert line.span == timedelta(seconds=10)
    a, b = line.bars
    assert (a.path, a.status, a.left, a.width, a.took) == (
        "a",
        "succeeded",
        0.0,
        20.0,
        timedelta(seconds=2),
    )
    assert (b.left, b.width, b.took) == (20.0, 80.0, timedelta(seconds=8))
    assert [bar.path for bar in line.bars] == ["a", "b"]  # the order given


def test_a_running_step_reaches_now() -> None:
    line = build(
        {"started_at": at(0), "finished_at": None},
        [step("a", "succeeded", 0, 5), step("slow", "running", 5, None, "http")],
        now=at(20),
    )
    slow = line.bars[1]
    assert line.span == timedelta(seconds=20)
    assert (slow.left, slow.width, slow.took) == (25.0, 75.0, timedelta(seconds=15))
    waiting = build({"started_at": at(0)}, [step("w", "waiting", 0, None, "wait")], now=at(4))
    assert (waiting.bars[0].width, waiting.bars[0].took) == (100.0, timedelta(seconds=4))


def test_a_step_that_never_started_is_a_thin_mark_where_it_was_decided() -> None:
    line = build(
        {"started_at": at(0), "finished_at": at(10)},
        [
            step("a", "succeeded", 0, 4),
            step("skipped", "skipped", None, 4),
            step("p", "pending", None, None),
        ],
    )
    skipped, pending = line.bars[1], line.bars[2]
    assert (skipped.left, skipped.width, skipped.took) == (40.0, MIN_WIDTH, None)
    assert (pending.left, pending.width, pending.took) == (0.0, MIN_WIDTH, None)


def test_short_and_late_bars_stay_visible_on_the_axis() -> None:
    line = build(
        {"started_at": at(0), "finished_at": at(100)},
        [step("blink", "succeeded", 50, 50.001), step("last", "skipped", None, 100)],
    )
    blink, last = line.bars
    assert blink.width == MIN_WIDTH
    assert last.left == 100 - MIN_WIDTH and last.left + last.width <= 100


def test_steps_outside_the_execution_widen_the_axis() -> None:
    # A retry reuses the recorded steps of the run before, which started earlier.
    line = build(
        {"started_at": at(10), "finished_at": at(20)},
        [step("copied", "succeeded", 0, 5), step("again", "succeeded", 10, 25)],
    )
    assert line.span == timedelta(seconds=25)
    assert [(bar.left, bar.width) for bar in line.bars] == [(0.0, 20.0), (40.0, 60.0)]


def test_nesting_depth_from_the_path() -> None:
    line = build(
        {"started_at": at(0), "finished_at": at(1)},
        [
            step("loop", "succeeded", 0, 1, "foreach"),
            step("loop[2].fetch", "succeeded", 0, 1, "http"),
            step("fan.one[0].x", "succeeded", 0, 1),
        ],
    )
    assert [bar.depth for bar in line.bars] == [0, 2, 3]


@pytest.mark.parametrize(
    ("seconds", "labels"),
    [
        (1, ["0 ms", "250 ms", "500 ms", "750 ms", "1000 ms"]),
        (10, ["0.0 s", "2.5 s", "5.0 s", "7.5 s", "10.0 s"]),
        (600, ["0.0 min", "2.5 min", "5.0 min", "7.5 min", "10.0 min"]),
    ],
)
def test_ticks_mark_the_quarters_in_a_fitting_unit(seconds: float, labels: list[str]) -> None:
    line = build({"started_at": at(0), "finished_at": at(seconds)}, [])
    assert line.ticks == list(zip([0.0, 25.0, 50.0, 75.0, 100.0], labels, strict=True))


def test_an_execution_that_has_not_started_has_no_bars() -> None:
    line = build({"started_at": None, "finished_at": None}, [], now=at(0))
    assert line.bars == []
    assert line.span == timedelta(milliseconds=1)


@pytest.mark.parametrize(
    ("seconds_ago", "text"),
    [
        (0, "just now"),
        (4.9, "just now"),
        (30, "30 s ago"),
        (90, "1 min ago"),
        (3599, "59 min ago"),
        (2 * 3600 + 5, "2 h ago"),
        (3 * 86400, "3 d ago"),
        (-5, "in the future"),
    ],
)
def test_ago(seconds_ago: float, text: str) -> None:
    assert ago(at(-seconds_ago), now=T0) == text


def test_ago_of_nothing_and_of_long_ago() -> None:
    assert ago(None) == "never"
    assert ago(datetime(2023, 1, 2, tzinfo=UTC), now=T0) == "2023-01-02"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 ms"),
        (0.42, "420 ms"),
        (3.2, "3.2 s"),
        (250, "4 min 10 s"),
        (7500, "2 h 5 min"),
    ],
)
def test_took(seconds: float, text: str) -> None:
    assert took(timedelta(seconds=seconds)) == text


def test_duration_is_empty_until_started() -> None:
    assert duration(None, None) == ""
    assert duration(at(0), at(1.5)) == "1.5 s"
    assert duration(datetime.now(UTC) - timedelta(hours=1), None).startswith("1 h")  # to now

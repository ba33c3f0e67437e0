"""Durations people write in definitions ("1h30m", "500ms", 30) and cron expressions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flowdeck.definition.durations import format_duration, parse_duration, validate_cron


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("10s", timedelta(seconds=10)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s5ms", timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=5)),
        ("1.5s", timedelta(seconds=1.5)),
        (" 45 ", timedelta(seconds=45)),
        ("0s", timedelta()),
        (90, timedelta(seconds=90)),
        (2.5, timedelta(seconds=2.5)),
    ],
)
def test_durations_people_write_are_read(text: str | int | float, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "cannot be empty"),
        ("10x", "'10x' is not a duration"),
        ("1h30", "'1h30' is not a duration"),
        ("ten seconds", "is not a duration"),
        ("-5s", "is not a duration"),
        ("1m1m", "gives the unit 'm' twice"),
        (-1, "cannot be negative"),
        (float("inf"), "cannot be negative or infinite"),
        (True, "expected a duration, got True"),
        ("99999999999d", "too long a duration"),
    ],
)
def test_a_wrong_duration_says_what_is_expected(text: str | int | float, complaint: str) -> None:
    with pytest.raises(ValueError, match="duration") as caught:
        parse_duration(text)
    assert complaint in str(caught.value)


def test_the_error_shows_the_units_a_person_can_use() -> None:
    with pytest.raises(ValueError, match=r'"500ms", "10s", "5m", "2h", "1d", "1h30m"'):
        parse_duration("10 minutes")


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(), "0s"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=2, seconds=5), "2d5s"),
        (timedelta(seconds=-90), "-1m30s"),
        (timedelta(microseconds=1_499), "1ms"),
    ],
)
def test_durations_are_formatted_as_people_write_them(duration: timedelta, text: str) -> None:
    assert format_duration(duration) == text


@pytest.mark.parametrize("text", ["1d2h3m4s5ms", "500ms", "1h30m", "59s", "3d"])
def test_formatted_durations_read_back_the_same(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    "expression",
    [
        "*/5 * * * *",
        "0 9 * * mon-fri",
        "30 2 1 * *",
        "0 0 29 2 *",
        "@daily",
        "@hourly",
        "0  9 * * *",
    ],
)
def test_standard_cron_expressions_are_valid(expression: str) -> None:
    assert validate_cron(expression) is None


@pytest.mark.parametrize(
    ("expression", "complaint"),
    [
        (
            "0 0 * * * *",
            "has 5 fields (minute hour day-of-month month day-of-week); '0 0 * * * *' has 6",
        ),
        ("* * * *", "has 4"),
        ("", "has 0"),
        ("61 * * * *", "'61 * * * *' is not a valid cron expression"),
        ("0 0 30 2 *", "never matches a date"),
        ("@reboot", "unknown cron shorthand '@reboot'"),
        ("0 9 * * funday", "is not a valid cron expression"),
    ],
)
def test_a_wrong_cron_expression_says_why(expression: str, complaint: str) -> None:
    problem = validate_cron(expression)
    assert problem is not None
    assert complaint in problem

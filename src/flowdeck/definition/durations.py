"""Durations ("500ms", "10s", "1h30m", or a number of seconds) and cron expressions.

Both are written by people in definitions and triggers, so both parsers explain what
they expected instead of echoing a library's message.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from croniter import CroniterBadDateError, CroniterError, croniter

# Longest unit first so that "ms" is not read as "m" followed by a stray "s".
_UNITS: dict[str, timedelta] = {
    "ms": timedelta(milliseconds=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_HINT = (
    'write a duration as a number with a unit: "500ms", "10s", "5m", "2h", "1d", "1h30m", '
    "or plain seconds"
)


def parse_duration(text: str | int | float) -> timedelta:
    """The duration that `text` spells; raise ValueError saying what is wrong.

    A number (or a string of digits) counts seconds; otherwise the text is one or more
    number-unit parts, largest unit first or not, optionally separated by spaces
    ("1h30m", "1h 30m", "1.5s"). Negative durations are refused.
    """
    if isinstance(text, bool):  # bool is an int subclass; `timeout: true` is a mistake
        raise ValueError(f"expected a duration, got {text!r}; {_HINT}")
    if isinstance(text, int | float):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"a duration cannot be negative or infinite (got {text!r})")
        return _seconds(float(text), text)
    if not isinstance(text, str):
        raise ValueError(f"expected a duration, got {type(text).__name__}; {_HINT}")
    source = text.strip()
    if not source:
        raise ValueError(f"a duration cannot be empty; {_HINT}")
    if _NUMBER.fullmatch(source):
        return _seconds(float(source), text)
    total = timedelta()
    seen: set[str] = set()
    position = 0
    for match in _PART.finditer(source):
        if source[position : match.start()].strip():
            break
        unit = match.group(2)
        if unit in seen:
            raise ValueError(f"{text!r} gives the unit {unit!r} twice; {_HINT}")
        seen.add(unit)
        try:
            total += float(match.group(1)) * _UNITS[unit]
        except OverflowError:
            raise ValueError(f"{text!r} is too long a duration") from None
        position = match.end()
    if position == 0 or source[position:].strip():
        raise ValueError(f"{text!r} is not a duration; {_HINT}")
    return total


def _seconds(seconds: float, original: object) -> timedelta:
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{original!r} is too long a duration") from None


def format_duration(duration: timedelta) -> str:
    """`duration` the way people write it ("1h30m", "500ms", "0s"); parse_duration reads it back.

    Precision is one millisecond: smaller parts are rounded.
    """
    milliseconds = round(duration / timedelta(milliseconds=1))
    if milliseconds == 0:
        return "0s"
    sign = "-" if milliseconds < 0 else ""
    remaining = abs(milliseconds)
    parts: list[str] = []
    for unit in ("d", "h", "m", "s", "ms"):
        size = round(_UNITS[unit] / timedelta(milliseconds=1))
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)


# croniter accepts these shorthands; they stand for standard five-field expressions.
_CRON_ALIASES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_CRON_FIELDS = "minute hour day-of-month month day-of-week"


def validate_cron(expression: str) -> str | None:
    """None when `expression` is a valid standard (five-field) cron expression, else why not.

    The @yearly, @monthly, @weekly, @daily, @midnight and @hourly shorthands are accepted.
    Six- or seven-field forms (seconds, years) are refused: schedules run at most once a
    minute. An expression that can never match (February 30) is refused as well.
    """
    if not isinstance(expression, str):
        return f"a cron expression is text, got {type(expression).__name__}"
    source = " ".join(expression.split())
    if source.startswith("@"):
        if source.lower() not in _CRON_ALIASES:
            known = ", ".join(sorted(_CRON_ALIASES))
            return f"unknown cron shorthand {source!r}; known: {known}"
    elif len(source.split(" ")) != 5:
        count = len(source.split(" ")) if source else 0
        return f"a cron expression has 5 fields ({_CRON_FIELDS}); {expression!r} has {count}"
    try:
        # A fixed start keeps the answer the same whatever the day; get_next finds the
        # expressions that parse but never match a date.
        croniter(source.lower(), datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        return f"{expression!r} never matches a date (for example, day 30 of February)"
    except (CroniterError, ValueError, KeyError) as exc:
        return f"{expression!r} is not a valid cron expression ({_CRON_FIELDS}): {exc}"
    return None

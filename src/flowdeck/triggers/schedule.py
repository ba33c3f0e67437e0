"""When a schedule fires: a 5-field cron expression read in an IANA time zone.

The expression is matched against LOCAL wall-clock time, then each match is turned into
an instant (UTC). Daylight-saving changes follow one rule, "never twice, never zero":

- a local time that does not exist (it falls in a spring-forward gap, like 02:30 in
  Europe/Berlin on the last Sunday of March) fires once, at the first valid instant
  after the gap (03:00 local that day);
- a local time that occurs twice (it falls in a fall-back overlap, like 01:30 in
  America/New_York on the first Sunday of November) fires once, at its first
  occurrence.

Several matches that land on the same instant (every match inside a gap) fire once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from flowdeck.definition.durations import validate_cron

# Wider than any offset change, so that the wall-clock walk never misses a match whose
# instant falls on the other side of an overlap from where the walk starts.
_SLACK = timedelta(hours=3)
_MINUTE = timedelta(minutes=1)


class ScheduleError(ValueError):
    """A cron expression or a time zone that cannot be used; `field` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def zone_of(name: str) -> ZoneInfo:
    """The IANA time zone `name` ("Europe/Berlin", "UTC"); ScheduleError if unknown."""
    if not isinstance(name, str) or not name.strip():
        raise ScheduleError("timezone", "a time zone is an IANA name such as 'Europe/Berlin'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(
            "timezone", f"{name!r} is not a known IANA time zone (for example 'Europe/Berlin')"
        ) from None


def check_cron(cron: str) -> str:
    """The expression, normalised; ScheduleError when it is not a 5-field cron expression."""
    problem = validate_cron(cron)
    if problem is not None:
        raise ScheduleError("cron", problem)
    return " ".join(cron.split()).lower()


def to_instant(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the naive wall-clock time `local` fires in `zone`."""
    first = local.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local:
        return first.astimezone(UTC)  # exists (its first occurrence when it occurs twice)
    # In a gap: the first minute after it that exists is the instant the gap ends.
    probe = local.replace(second=0, microsecond=0)
    for _ in range(24 * 60):
        probe += _MINUTE
        aware = probe.replace(tzinfo=zone, fold=0)
        if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == probe:
            return aware.astimezone(UTC)
    raise ScheduleError("timezone", f"no valid time after {local} in {zone.key}")


def _walk(cron: str, zone: ZoneInfo, start: datetime, *, forward: bool) -> Iterator[datetime]:
    local = start.astimezone(zone).replace(tzinfo=None)
    local = local + _SLACK if not forward else local - _SLACK
    walker = croniter(cron, local)
    while True:
        naive = walker.get_next(datetime) if forward else walker.get_prev(datetime)
        yield to_instant(naive, zone)


def next_fire_times(cron: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """The next `count` instants (aware, UTC) strictly after `after` at which the schedule
    fires, following the DST rule of this module."""
    expression = check_cron(cron)
    zone = zone_of(timezone)
    after = _aware(after)
    times: list[datetime] = []
    for instant in _walk(expression, zone, after, forward=True):
        if len(times) >= count:
            break
        if instant > after and (not times or instant > times[-1]):
            times.append(instant)
    return times


def due_fire_times(
    cron: str, timezone: str, since: datetime, until: datetime, limit: int
) -> list[datetime]:
    """The latest `limit` fire instants in [since, until], oldest first."""
    expression = check_cron(cron)
    zone = zone_of(timezone)
    since, until = _aware(since), _aware(until)
    times: list[datetime] = []
    for instant in _walk(expression, zone, until, forward=False):
        if len(times) >= limit or instant < since:
            if instant < since - _SLACK or len(times) >= limit:
                break
            continue
        if instant <= until and (not times or instant < times[-1]):
            times.append(instant)
    return list(reversed(times))


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

"""The execution timeline: a bar per step on one time axis.

Positions are percentages of the execution's span, so the page draws them with plain
CSS (`left`/`width`) and the bars scale with the screen. A step still running reaches
to "now"; a step that never started (skipped) is a thin mark at the point it was
decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MIN_WIDTH = 0.6  # percent: the shortest bar still visible (and clickable)


@dataclass(frozen=True)
class Bar:
    path: str
    step_id: str
    step_type: str
    status: str
    depth: int  # nesting: `loop[2].fetch` is deeper than `loop`
    left: float  # percent of the axis
    width: float  # percent of the axis
    took: timedelta | None


@dataclass(frozen=True)
class Timeline:
    bars: list[Bar]
    span: timedelta
    ticks: list[tuple[float, str]]  # (percent, label)


def _depth(path: str) -> int:
    return path.count(".") + path.count("[")


def _label(offset: timedelta, span: timedelta) -> str:
    seconds = offset.total_seconds()
    if span < timedelta(seconds=2):
        return f"{seconds * 1000:.0f} ms"
    if span < timedelta(minutes=2):
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def build(
    execution: Mapping[str, Any], steps: Sequence[Mapping[str, Any]], now: datetime | None = None
) -> Timeline:
    """The bars of an execution's steps (in the order given), placed on its time axis."""
    now = now or datetime.now(UTC)
    starts = [s["started_at"] for s in steps if s.get("started_at") is not None]
    begin = execution.get("started_at") or (min(starts) if starts else None) or now
    if starts:
        begin = min(begin, *starts)
    end = execution.get("finished_at") or now
    ends = [s["finished_at"] for s in steps if s.get("finished_at") is not None]
    end = max(end, *ends) if ends else end
    span = max(end - begin, timedelta(milliseconds=1))
    total = span.total_seconds()

    bars = []
    for step in steps:
        started = step.get("started_at")
        finished = step.get("finished_at")
        if started is None:
            left = ((finished or begin) - begin).total_seconds() / total * 100
            width = MIN_WIDTH
            took = None
        else:
            stop = finished or (now if step["status"] in ("running", "waiting") else started)
            left = (started - begin).total_seconds() / total * 100
            width = max((stop - started).total_seconds() / total * 100, MIN_WIDTH)
            took = stop - started
        left = min(max(left, 0.0), 100.0 - MIN_WIDTH)
        bars.append(
            Bar(
                path=step["path"],
                step_id=step["step_id"],
                step_type=step["step_type"],
                status=step["status"],
                depth=_depth(step["path"]),
                left=round(left, 3),
                width=round(min(width, 100.0 - left), 3),
                took=took,
            )
        )
    ticks = [(fraction * 100, _label(span * fraction, span)) for fraction in (0, 0.25, 0.5, 0.75)]
    ticks.append((100.0, _label(span, span)))
    return Timeline(bars, span, ticks)

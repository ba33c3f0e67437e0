"""Numbers for people: how long something took, as the pages and the CLI show it."""

from __future__ import annotations

from datetime import timedelta


def took(span: timedelta) -> str:
    """'420 ms', '3.2 s', '4 min 10 s', '2 h 5 min'."""
    seconds = span.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"

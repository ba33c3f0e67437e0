"""What changes from one run to the next in the examples' output (ids, times, durations,
tables' column widths), replaced by placeholders so the rest can be compared exactly."""

from __future__ import annotations

import re

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_STABLE_BUT_TIMED = (
    (re.compile(r"\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?"), "<time>"),
    (re.compile(r"\b\d+:\d\d:\d\d(\.\d+)?\b"), "<duration>"),  # a timedelta
    (re.compile(r"\b\d+(\.\d+)? (ms|s)\b"), "<duration>"),
    (re.compile(r"""(["']average_ms["']): \d+"""), r"\1: <ms>"),
)
_BORDER = re.compile(r"^[┏┡└╭╰┌├━─┳╇┻┴┬┼┓┩┘┐┤ ]+$")
_ROW = re.compile(r"^[┃│]")


class Ids:
    """Names each id by the order it first appears in (`<id1>`, `<id2>`...), so that an id
    printed twice must be the same id twice."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def __call__(self, match: re.Match[str]) -> str:
        return self.names.setdefault(match.group(0), f"<id{len(self.names) + 1}>")


def normalise(lines: list[str], ids: Ids) -> list[str]:
    """The lines with ids, times and durations replaced; a table's border lines dropped and
    its rows written as their cells (`a | b | c`), whatever the columns' widths."""
    result: list[str] = []
    for line in lines:
        line = _UUID.sub(ids, line.rstrip())
        for pattern, placeholder in _STABLE_BUT_TIMED:
            line = pattern.sub(placeholder, line)
        if _BORDER.match(line) and line.strip():
            continue
        if _ROW.match(line):
            line = " | ".join(cell.strip() for cell in re.split(r"[┃│]", line)[1:-1])
        result.append(line)
    return result

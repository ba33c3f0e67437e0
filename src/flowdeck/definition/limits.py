"""The limits on the work one expression may do, set once per process from the settings.

Expressions are written by users and evaluated in a worker; these numbers keep one of
them from taking the worker's memory or time (see sandbox.py for where each is counted).
A worker process calls `configure()` with the values of its settings at start-up; a
process that never does (the API, tests, the CLI) uses the defaults below, which are
also the settings' defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_RANGE = 10_000  # items range() may produce; loops over more are almost always mistakes
MAX_EXPONENT = 1_000  # 10 ** 10 ** 10 would hold a worker for minutes
MAX_WIDTH = 100_000  # widths and counts given to padding/chunking filters and methods
# Text that filters which are slow on long input (wordwrap, truncate) may be given:
# textwrap on a single 1,000,000-character word takes 9 s here.
MAX_SLOW_FILTER_INPUT = 100_000


@dataclass(frozen=True)
class ExpressionLimits:
    """What one evaluation of one expression string may build and spend."""

    # Characters of text, or items of a list or mapping, of any value built on the way
    # (by an operator, a filter, a call, a loop's output or a namespace assignment).
    max_size: int = 1_000_000
    # Loop iterations plus calls: nested loops and recursive macros produce no output
    # for the size limit to stop, so they are counted instead.
    max_operations: int = 500_000
    # Seconds one evaluation may run, checked at every loop iteration, call and operator;
    # a single call that never returns is the worker watchdog's to stop.
    max_seconds: float = 2.0

    def size_error(self, what: str, size: int, *, made: bool = True) -> str:
        verb = "made" if made else "would make"
        return (
            f"{what} {verb} a value of {size} characters or items, over the limit of "
            f"{self.max_size} (FLOWDECK_EXPRESSION_MAX_SIZE)"
        )


_current = ExpressionLimits()


def configure(limits: ExpressionLimits) -> None:
    """Use `limits` for every evaluation in this process from now on."""
    global _current
    _current = limits


def current() -> ExpressionLimits:
    return _current

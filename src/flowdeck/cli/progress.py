"""Following an execution live: a spinner for each running step, a line for each step
that ends (with its duration and status), and the end of the execution."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Self

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.text import Text

from flowdeck.cli.common import compact, styled, took
from flowdeck.cli.console import err, out
from flowdeck.client import Client, StatusEvent, StepEvent

MARK = {"succeeded": "[green]✓[/green]", "failed": "[red]✗[/red]", "skipped": "[dim]-[/dim]"}


class LiveSteps:
    """The steps in progress under a spinner (on a terminal); finished ones printed above."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.running: dict[str, tuple[StepEvent, float]] = {}
        self.live = Live(self, console=console, refresh_per_second=10, transient=True)

    def __enter__(self) -> Self:
        self.live.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.live.stop()

    def __rich__(self) -> RenderableType:
        now = time.monotonic()
        return Group(
            *(
                Spinner(
                    "dots",
                    Text(f"{e.path} ({e.step_type}) {e.status} {now - since:.1f} s"),
                    style="cyan",
                )
                for e, since in self.running.values()
            )
        )

    def step(self, event: StepEvent) -> None:
        """Show a step that started, waits or ended."""
        if event.status in ("running", "waiting", "queued"):
            known = self.running.get(event.path)
            self.running[event.path] = (event, known[1] if known else time.monotonic())
            if event.status == "waiting":
                self.console.print(f"  … {escape(event.path)} ({event.step_type}) waiting")
            return
        self.running.pop(event.path, None)
        self.console.print(step_line(event))


def step_line(event: StepEvent) -> str:
    duration = f" in {took(event.duration)}" if event.duration is not None else ""
    problem = f": {escape(str(event.error.get('message', '')))}" if event.error else ""
    mark = MARK.get(event.status, "?")
    return f"  {mark} {escape(event.path)} ({event.step_type}) {event.status}{duration}{problem}"


def follow(client: Client, execution_id: str, *, show: bool = True) -> StatusEvent:
    """Watch an execution's events until it ends; return its final status event."""
    last = StatusEvent(status="unknown")
    if not show:
        for event in client.events(execution_id):
            if isinstance(event, StatusEvent):
                last = event
        return last
    with LiveSteps(out) as live:
        for event in client.events(execution_id):
            if isinstance(event, StepEvent):
                live.step(event)
            else:
                last = event
    print_end(last)
    return last


def print_end(last: StatusEvent) -> None:
    if last.status == "succeeded":
        out.print(f"[green]succeeded[/green] outputs: {escape(compact(last.outputs))}")
        return
    message = last.error.get("message", "") if isinstance(last.error, dict) else ""
    err.print(f"{styled(last.status)} {escape(str(message or ''))}".rstrip())

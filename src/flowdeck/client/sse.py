"""Server-sent events, decoded line by line (no I/O: both clients feed it their lines)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str


class SseDecoder:
    """Feed it the lines of a `text/event-stream`; it returns an event at each blank line
    that ends one (https://html.spec.whatwg.org/multipage/server-sent-events.html)."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> ServerSentEvent | None:
        """Take one line (without its line break); return the event it completes, if any."""
        if not line:
            return self.flush()
        if line.startswith(":"):
            return None  # a comment (keep-alive)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None  # `id` and `retry` are not used by the Flowdeck API

    def flush(self) -> ServerSentEvent | None:
        """The event gathered so far (at a blank line, or when the stream ends)."""
        event = ServerSentEvent(self._event or "message", "\n".join(self._data))
        had_data = bool(self._data)
        self._event, self._data = "", []
        return event if had_data else None

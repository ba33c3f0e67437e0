"""What the client raises: the API's own errors, and a server that cannot be reached.

Both are FlowdeckErrors, so the `flowdeck` command prints them as one message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from flowdeck.errors import FlowdeckError


@dataclass(frozen=True)
class ErrorDetail:
    """One problem of a rejected document, at its JSON path (`definition.steps[0].id`)."""

    path: str
    message: str


class FlowdeckApiError(FlowdeckError):
    """The server answered with an error: its HTTP status, stable `code`, `message` for
    people, and `details` (one per problem, with its path) for a rejected document."""

    def __init__(
        self, status: int, code: str, message: str, details: list[ErrorDetail] | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        lines = [f"{message} ({code})"]
        lines.extend(f"  {d.path or '(document)'}: {d.message}" for d in self.details)
        super().__init__("\n".join(lines))


class FlowdeckConnectionError(FlowdeckError):
    """The server could not be reached (refused, timed out, bad address)."""

    def __init__(self, url: str, reason: Exception) -> None:
        self.url = url
        detail = str(reason) or type(reason).__name__
        super().__init__(f"cannot reach Flowdeck at {url}: {detail}")


class UnexpectedResponseError(FlowdeckError):
    """A 2xx answer that is not what the API returns (a proxy's page, another server)."""


def api_error(response: httpx.Response) -> FlowdeckApiError:
    """The error a 4xx/5xx response carries (its body must have been read)."""
    try:
        body: Any = response.json()
        error = body["error"]
        details = [ErrorDetail(str(d["path"]), str(d["message"])) for d in error.get("details", [])]
        return FlowdeckApiError(response.status_code, error["code"], error["message"], details)
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:300] or response.reason_phrase
        return FlowdeckApiError(
            response.status_code, "http_error", f"HTTP {response.status_code}: {text}"
        )

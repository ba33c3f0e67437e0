"""What an action step gets besides its rendered arguments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx


class StepError(Exception):
    """A step failed in a way a person should read: the message becomes its error."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_error(self) -> dict[str, Any]:
        return {"message": self.message, **self.details}


@dataclass
class StepRun:
    """One attempt of one step: where it is, and what it may use."""

    execution_id: str
    path: str
    attempt: int
    http: httpx.AsyncClient
    step: dict[str, Any]
    logs: list[dict[str, Any]] = field(default_factory=list)

    def log(self, message: str, level: str = "info") -> None:
        self.logs.append({"at": datetime.now(UTC).isoformat(), "level": level, "message": message})

    @property
    def idempotency_key(self) -> str:
        """Stable across retries and re-runs after a crash: the same step, the same key."""
        return f"{self.execution_id}:{self.path}"

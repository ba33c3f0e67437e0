"""Timestamps as the API sends them: always with their offset.

The seed's `workflow_templates` has `TIMESTAMP` (no time zone) columns; Flowdeck's
connections use UTC as their session time zone (`flowdeck.db.pool`), so what those
columns hold is UTC, and it goes out as such ("...+00:00"), a valid RFC 3339
`date-time`, like every other timestamp.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def _assume_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# A naive value (from a TIMESTAMP column) is UTC; an aware one goes out as it is.
Timestamp = Annotated[datetime, AfterValidator(_assume_utc)]

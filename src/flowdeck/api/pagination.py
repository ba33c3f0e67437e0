"""The page shape every list returns, and the `limit` query parameter (the cursors
themselves are the services', `flowdeck.services.paging`)."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from flowdeck.services.paging import DEFAULT_LIMIT, MAX_LIMIT

T = TypeVar("T")

# `limit: Limit = DEFAULT_LIMIT`: checked in requests.
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "Limit", "Page"]

"""Keyset pagination: opaque cursors and the page every list returns.

A cursor is the sort key of the last row of a page, base64url-encoded JSON. The
next page starts strictly after it, so rows inserted meanwhile never shift a page
(as OFFSET would) and no row is skipped or repeated.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from flowdeck.documents import DocumentError, load_json
from flowdeck.services.errors import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(*key: Any) -> str:
    raw = json.dumps([str(part) if part is not None else None for part in key])
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, *parts: Callable[[str], object]) -> list[str | None]:
    """The sort key in a cursor, one text per part; BadRequest invalid_cursor when it was
    not made here.

    Each part must parse with its parser (`UUID`, `int`, `datetime.fromisoformat`...), so
    a forged cursor is refused here, not by the database as a 500. The texts are
    returned as they are: the queries cast them.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = load_json(base64.urlsafe_b64decode(padded.encode("ascii")))
        valid = (
            isinstance(key, list)
            and len(key) == len(parts)
            and all(part is None or isinstance(part, str) for part in key)
        )
        if valid:
            for text, parse in zip(key, parts, strict=True):
                if text is not None:
                    parse(text)
    except (ValueError, binascii.Error, UnicodeError, DocumentError):
        valid = False
    if not valid:
        raise BadRequest("invalid_cursor", "The cursor is not valid; start from the first page.")
    result: list[str | None] = key
    return result


def page(rows: list[dict[str, Any]], limit: int, key: tuple[str, ...]) -> dict[str, Any]:
    """A page from `limit + 1` fetched rows: the extra row only says that more follow."""
    items = rows[:limit]
    more = len(rows) > limit
    cursor = encode_cursor(*(items[-1][field] for field in key)) if more and items else None
    return {"items": items, "next_cursor": cursor}

"""Sign-in throttling: a password is checked only while its account and its client
address are under their limits of failures (docs/operations.md, "Sign-in throttling").

The counts are in the database (`sign_in_failures`), so every API process agrees. An
attempt is charged to both keys before the password is checked (the row locks make
concurrent attempts count one after the other); a right password resets the account
and gives the address its attempt back. Over a limit, the attempt is refused without
checking the password, even a right one: otherwise guessing could go on regardless.
An unknown e-mail is counted exactly as a known one, and answered the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from ipaddress import IPv4Address, IPv6Address, IPv6Network

from flowdeck.db.queries import query
from flowdeck.db.types import Conn
from flowdeck.errors import FlowdeckError
from flowdeck.users import service
from flowdeck.users.service import User

Q = "throttle"
PRUNE_BATCH = 1000
IPV6_PREFIX = 64  # one IPv6 host usually holds a whole /64: count it as one address
UNKNOWN_ADDRESS = "unknown"

IPAddress = IPv4Address | IPv6Address


@dataclass(frozen=True)
class Limits:
    """Failures allowed per account and per address in `window` (0: no limit)."""

    per_account: int
    per_address: int
    window: timedelta


class SignInThrottled(FlowdeckError):
    """Too many failed sign-ins for the account or from the address; wait `retry_after`."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Too many failed sign-ins for this account or from this address; "
            f"try again in {wait_text(retry_after)}."
        )
        self.retry_after = retry_after


def wait_text(seconds: int) -> str:
    """'40 seconds', '1 minute', '15 minutes' (rounded up: never shorter than the wait)."""
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def account_key(email: str) -> str:
    """The e-mail as accounts are looked up: trimmed, lower-cased (and bounded)."""
    return email.strip().lower()[:320]


def address_key(address: IPAddress | None) -> str:
    """An IPv4 address as it is; an IPv6 address by its /64."""
    if address is None:
        return UNKNOWN_ADDRESS
    if isinstance(address, IPv6Address):
        return str(IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


def wait_of(counts: dict[str, tuple[int, int]], limits: Limits) -> int | None:
    """Seconds to wait when a key is over its limit (the longer wait of the two); None
    when the attempt may go on. `counts` maps kind to (attempts, seconds left)."""
    waits = [
        left
        for kind, limit in (("account", limits.per_account), ("address", limits.per_address))
        if limit > 0
        for attempts, left in [counts.get(kind, (0, 0))]
        if attempts > limit
    ]
    return max(waits) if waits else None


async def sign_in(
    conn: Conn, email: str, password: str, address: IPAddress | None, limits: Limits
) -> User | None:
    """The user whose password this is, or None; SignInThrottled when over a limit."""
    keys = {"account": account_key(email), "address": address_key(address)}
    cursor = await conn.execute(query(Q, "count_attempt"), {**keys, "window": limits.window})
    counts = {row["kind"]: (row["failures"], row["retry_after"]) for row in await cursor.fetchall()}
    wait = wait_of(counts, limits)
    user = None
    if wait is None:
        user = await service.authenticate_password(conn, email, password)
    if user is not None:
        await conn.execute(query(Q, "succeeded"), keys)
        return user
    await conn.execute(query(Q, "prune"), {"window": limits.window, "batch": PRUNE_BATCH})
    if wait is not None:
        raise SignInThrottled(wait)
    return None

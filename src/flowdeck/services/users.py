"""Users: sign-in (throttled), sessions, API tokens, and who may do what.

The accounts themselves (create, bootstrap, signing key) are `flowdeck.users.service`,
which the CLI uses too; this is what a signed-in person asks of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from flowdeck.config import Settings
from flowdeck.db.types import Conn
from flowdeck.services.errors import Forbidden, NotFound, Throttled
from flowdeck.users import service, throttle
from flowdeck.users.service import User
from flowdeck.users.throttle import IPAddress

SESSION_TTL = timedelta(days=14)


def require_admin(actor: User) -> None:
    """Forbidden unless the actor is an administrator."""
    if not actor.is_admin:
        raise Forbidden("Only an administrator may do this.")


def throttle_limits(settings: Settings) -> throttle.Limits:
    return throttle.Limits(
        settings.signin_max_failures_per_account,
        settings.signin_max_failures_per_address,
        settings.signin_window,
    )


async def check_password(
    conn: Conn, email: str, password: str, address: IPAddress | None, limits: throttle.Limits
) -> User | None:
    """The user with this e-mail and password, or None; Throttled too_many_attempts
    while the account or the client's address is throttled."""
    try:
        return await throttle.sign_in(conn, email, password, address, limits)
    except throttle.SignInThrottled as refused:
        raise Throttled("too_many_attempts", str(refused), refused.retry_after) from None


async def start_session(conn: Conn, user: User) -> str:
    """A new browser session of `user`; its secret (what the cookie carries, signed)."""
    return await service.create_session(conn, user, SESSION_TTL)


async def session_user(conn: Conn, secret: str) -> User | None:
    """The user of a session still going, or None."""
    return await service.authenticate_session(conn, secret)


async def token_user(conn: Conn, token: str) -> User | None:
    """The user of an API token still valid, or None."""
    return await service.authenticate_token(conn, token)


async def end_session(conn: Conn, secret: str) -> None:
    await service.end_session(conn, secret)


def profile(user: User) -> dict[str, Any]:
    """What a person sees of an account."""
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "is_admin": user.is_admin,
    }


async def create_token(
    conn: Conn, actor: User, name: str, expires_at: datetime | None
) -> dict[str, Any]:
    """A new API token of the actor's: its row and, this once, `token` itself (a time
    without a zone is UTC)."""
    if expires_at is not None and expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    issued = await service.create_token(conn, actor, name, expires_at=expires_at)
    return {**issued.row, "token": issued.token}


async def list_tokens(conn: Conn, actor: User) -> list[dict[str, Any]]:
    """The actor's tokens, newest first (values are never shown again)."""
    return await service.list_tokens(conn, actor)


async def revoke_token(conn: Conn, actor: User, token_id: UUID) -> None:
    """Revoke one of the actor's tokens; NotFound for anyone else's."""
    if not await service.revoke_token(conn, actor, token_id):
        raise NotFound.of("The token")

"""Users, tokens and sessions in the database: one async implementation, used by the API
and (through asyncio.run) by the CLI."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from flowdeck.db.queries import fetch_row, query
from flowdeck.db.types import Conn
from flowdeck.errors import FlowdeckError
from flowdeck.users import credentials

Q = "users"

BOOTSTRAP_EMAIL = "admin@flowdeck.local"
SIGNING_KEY_SETTING = "session_signing_key"


class UserExistsError(FlowdeckError):
    """An account with that email exists already."""


class UnknownUserError(FlowdeckError):
    """No account has that email."""


@dataclass(frozen=True)
class User:
    id: UUID
    email: str
    display_name: str | None
    is_admin: bool

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        return cls(row["id"], row["email"], row["display_name"], row["is_admin"])


@dataclass(frozen=True)
class IssuedToken:
    """A token as created: the only moment its value is known."""

    token: str
    row: dict[str, Any]


async def create_user(
    conn: Conn,
    email: str,
    *,
    display_name: str | None = None,
    password: str | None = None,
    is_admin: bool = False,
) -> User:
    """Create an account; an email taken (in any letter case) is a UserExistsError."""
    try:
        async with conn.transaction():
            cursor = await conn.execute(
                query(Q, "create_user"),
                {
                    "email": email.strip(),
                    "display_name": display_name,
                    "password_hash": credentials.hash_password(password) if password else None,
                    "is_admin": is_admin,
                },
            )
            row = await fetch_row(cursor)
    except psycopg.errors.UniqueViolation:
        raise UserExistsError(f"A user with the email {email} exists already.") from None
    return User.from_row(row)


async def user_by_email(conn: Conn, email: str) -> User:
    cursor = await conn.execute(query(Q, "user_by_email"), {"email": email})
    row = await cursor.fetchone()
    if row is None:
        raise UnknownUserError(f"No user has the email {email}.")
    return User.from_row(row)


async def authenticate_password(conn: Conn, email: str, password: str) -> User | None:
    cursor = await conn.execute(query(Q, "user_by_email"), {"email": email})
    row = await cursor.fetchone()
    if row is None or not credentials.verify_password(row["password_hash"], password):
        if row is None:
            credentials.verify_password(None, password)  # as slow as a wrong password
        return None
    return User.from_row(row)


async def create_token(
    conn: Conn, user: User, name: str, *, expires_at: datetime | None = None
) -> IssuedToken:
    token = credentials.new_token()
    cursor = await conn.execute(
        query(Q, "create_token"),
        {
            "user_id": user.id,
            "name": name,
            "token_hash": credentials.digest(token),
            "prefix": credentials.visible_prefix(token),
            "expires_at": expires_at,
        },
    )
    return IssuedToken(token, await fetch_row(cursor))


async def list_tokens(conn: Conn, user: User) -> list[dict[str, Any]]:
    cursor = await conn.execute(query(Q, "list_tokens"), {"user_id": user.id})
    return await cursor.fetchall()


async def revoke_token(conn: Conn, user: User, token_id: UUID) -> bool:
    """Revoke one of `user`'s tokens; False when they have no such token."""
    cursor = await conn.execute(query(Q, "revoke_token"), {"id": token_id, "user_id": user.id})
    return await cursor.fetchone() is not None


async def authenticate_token(conn: Conn, token: str) -> User | None:
    cursor = await conn.execute(
        query(Q, "authenticate_token"), {"token_hash": credentials.digest(token)}
    )
    row = await cursor.fetchone()
    return User.from_row(row) if row else None


async def create_session(conn: Conn, user: User, ttl: timedelta) -> str:
    """Start a browser session and return its secret (the cookie's signed content)."""
    secret = secrets.token_urlsafe(32)
    await conn.execute(
        query(Q, "create_session"),
        {"user_id": user.id, "secret_hash": credentials.digest(secret), "ttl": ttl},
    )
    return secret


async def authenticate_session(conn: Conn, secret: str) -> User | None:
    cursor = await conn.execute(
        query(Q, "authenticate_session"), {"secret_hash": credentials.digest(secret)}
    )
    row = await cursor.fetchone()
    return User.from_row(row) if row else None


async def end_session(conn: Conn, secret: str) -> None:
    await conn.execute(query(Q, "end_session"), {"secret_hash": credentials.digest(secret)})


async def instance_setting(conn: Conn, name: str, make: str) -> str:
    """An instance-wide value, created from `make` by whichever process asks first."""
    await conn.execute(query(Q, "ensure_setting"), {"name": name, "value": make})
    cursor = await conn.execute(query(Q, "get_setting"), {"name": name})
    value: str = (await fetch_row(cursor))["value"]
    return value


async def signing_key(conn: Conn, configured: str | None) -> str:
    """The key that signs session cookies: FLOWDECK_SECRET_KEY, or one kept in the database."""
    if configured:
        return configured
    return await instance_setting(conn, SIGNING_KEY_SETTING, secrets.token_urlsafe(48))


@dataclass(frozen=True)
class BootstrapAdmin:
    email: str
    password: str
    token: str


async def bootstrap_admin(conn: Conn) -> BootstrapAdmin | None:
    """On a database with no users, create an admin with a random password and a token.

    Returns what to print, once; None when there were users already (or another
    process starting at the same moment created the admin).
    """
    async with conn.transaction():
        await conn.execute(query(Q, "lock_bootstrap"))
        cursor = await conn.execute(query(Q, "any_user"))
        row = await cursor.fetchone()
        if row is None or row["any_user"]:
            return None
        password = credentials.new_password()
        admin = await create_user(
            conn, BOOTSTRAP_EMAIL, display_name="Admin", password=password, is_admin=True
        )
        issued = await create_token(conn, admin, "first start")
    return BootstrapAdmin(admin.email, password, issued.token)

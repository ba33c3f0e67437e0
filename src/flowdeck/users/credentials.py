"""Secrets people hold: passwords (Argon2id) and random tokens (stored as SHA-256).

Tokens are 256-bit random strings, so a fast hash is enough to store them: there
is nothing to brute-force. Passwords are chosen by people, so they get a slow KDF.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_PREFIX = "fd_"  # noqa: S105 (a marker that makes tokens recognisable, not a secret)
VISIBLE_PREFIX_LENGTH = 10  # "fd_" and 7 characters: enough to tell tokens apart in a list

_hasher = PasswordHasher()

# Verifying against this keeps a login for an unknown email as slow as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; an account without a password never matches."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A new API token, e.g. fd_3q2...; shown once, never stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_password() -> str:
    return secrets.token_urlsafe(15)


def digest(secret: str) -> str:
    """The SHA-256 (hex) under which a token or session secret is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def visible_prefix(token: str) -> str:
    return token[:VISIBLE_PREFIX_LENGTH]


def csrf_token(signing_key: str, session_secret_hash: str) -> str:
    """The CSRF token of a session: an HMAC of the session, so nothing more is stored."""
    return hmac.new(
        signing_key.encode("utf-8"), f"csrf:{session_secret_hash}".encode(), hashlib.sha256
    ).hexdigest()

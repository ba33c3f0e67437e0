"""The encryption key and Fernet around it.

The key comes from FLOWDECK_SECRET_KEY (any string: a Fernet key is derived from it
with SHA-256) or, when that is unset, from `<data dir>/secret.key`, created on first
use with mode 600. Several hosts must share FLOWDECK_SECRET_KEY (or the file): a
secret written with one key cannot be read with another.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from flowdeck.errors import ConfigError, FlowdeckError

KEY_FILE = "secret.key"


class SecretUnreadable(FlowdeckError):
    """A stored secret cannot be decrypted with this key (another host's, or a new one)."""


def _fernet_key(material: str) -> bytes:
    return base64.urlsafe_b64encode(
        hashlib.sha256(f"flowdeck-secrets:{material}".encode()).digest()
    )


def load_key_material(configured: str | None, data_dir: Path) -> str:
    """FLOWDECK_SECRET_KEY, or the key file in the data directory (made on first use)."""
    if configured:
        return configured
    path = data_dir / KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    material = Fernet.generate_key().decode("ascii")
    try:
        # O_EXCL: of two processes starting at once, one writes and the other reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise ConfigError(
            f"Cannot create the key file {path} ({exc.strerror}); set FLOWDECK_SECRET_KEY."
        ) from exc
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(material + "\n")
    return material


class SecretBox:
    """Encrypts and decrypts secret values with one key."""

    def __init__(self, material: str) -> None:
        self._fernet = Fernet(_fernet_key(material))

    def seal(self, value: str) -> str:
        sealed: bytes = self._fernet.encrypt(value.encode("utf-8"))
        return sealed.decode("ascii")

    def open(self, sealed: str, name: str) -> str:
        try:
            opened: bytes = self._fernet.decrypt(sealed.encode("ascii"))
            return opened.decode("utf-8")
        except InvalidToken:
            raise SecretUnreadable(
                f"The secret {name!r} cannot be decrypted with this instance's key; was "
                "FLOWDECK_SECRET_KEY (or the key file) changed? Store the secret again."
            ) from None

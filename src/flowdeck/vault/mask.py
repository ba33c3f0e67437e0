"""Masking: every secret value, wherever it appears in a string, becomes `***`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MASK = "***"
# Shorter values would mask ordinary text ("a", "on"); such secrets protect little anyway.
MIN_MASKED_LENGTH = 3


class Masker:
    def __init__(self, values: Iterable[str]) -> None:
        # Longest first, so that a secret containing another is masked whole.
        self.values = sorted(
            {value for value in values if len(value) >= MIN_MASKED_LENGTH}, key=len, reverse=True
        )

    def __call__(self, value: Any) -> Any:
        """`value` with every secret replaced, in strings at any depth (keys too)."""
        if not self.values:
            return value
        if isinstance(value, str):
            for secret in self.values:
                if secret in value:
                    value = value.replace(secret, MASK)
            return value
        if isinstance(value, dict):
            return {self(key): self(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self(item) for item in value]
        return value


NO_SECRETS = Masker(())

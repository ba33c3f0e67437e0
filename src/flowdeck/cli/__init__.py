"""The `flowdeck` command (`flowdeck.cli:main`, also `python -m flowdeck`)."""

from __future__ import annotations

from flowdeck.cli.app import app, main

__all__ = ["app", "main"]

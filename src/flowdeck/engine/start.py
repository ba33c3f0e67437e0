"""Where the API, the pages and the webhooks import the start transition from; it lives in
the lifecycle (`lifecycle.start`)."""

from __future__ import annotations

from flowdeck.engine.lifecycle.start import NotStartable
from flowdeck.engine.lifecycle.start import start as start_execution

__all__ = ["NotStartable", "start_execution"]

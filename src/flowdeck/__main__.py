"""`python -m flowdeck` runs the CLI."""

from __future__ import annotations

from flowdeck.cli import main

main()

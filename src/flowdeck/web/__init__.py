"""The web UI: server-rendered pages at /workflows, /templates and /executions."""

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"

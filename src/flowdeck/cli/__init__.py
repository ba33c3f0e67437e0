"""The `flowdeck` command: `main` is the console script's entry point (`flowdeck.cli:main`,
and `python -m flowdeck`), `app` the Typer app.

Both come from the module app.py; re-exported here, `flowdeck.cli.app` names the Typer
app, so reach that module with `from flowdeck.cli.app import ...`, not `import ... as`.
"""

from __future__ import annotations

from flowdeck.cli.app import app, main

__all__ = ["app", "main"]

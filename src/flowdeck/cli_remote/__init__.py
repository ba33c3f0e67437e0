"""The `flowdeck` commands that talk to a server over its API, with `flowdeck.client`:
login, templates list|show, workflows ..., run, executions ...

Exit codes: 0 success; 1 an error (API, connection, config: one message on stderr);
2 a usage error; 3 an execution that failed, was cancelled or skipped.
"""

from __future__ import annotations

import typer

from flowdeck.cli_remote import executions, templates, workflows
from flowdeck.cli_remote.login import login


def register(app: typer.Typer, templates_app: typer.Typer) -> None:
    """Add the client commands to the `flowdeck` app (and `list`/`show` to `templates`)."""
    app.command("login")(login)
    templates_app.command("list")(templates.list_templates)
    templates_app.command("show")(templates.show_template)
    app.add_typer(workflows.app, name="workflows")
    app.command("run")(executions.run)
    app.add_typer(executions.app, name="executions")

"""Shell completion of the values that live on the server: workflow names and
execution ids, asked of the server with the saved login (or FLOWDECK_URL /
FLOWDECK_TOKEN) while a person presses Tab.

A completion never fails loudly: not logged in, a server that is down or slow, an
answer it cannot read — each completes nothing, within COMPLETION_TIMEOUT seconds.
"""

from __future__ import annotations

from collections.abc import Callable

from flowdeck.client import Client

COMPLETION_TIMEOUT = 2.0  # seconds: a Tab that hangs is worse than one that offers nothing
PAGE = 200  # the server's largest page: one request per Tab

Completion = list[tuple[str, str]]  # (value, help shown beside it by zsh)


def _ask(question: Callable[[Client], Completion]) -> Completion:
    try:
        with Client(timeout=COMPLETION_TIMEOUT) as client:
            return question(client)
    # Anything (no token, connection refused, a timeout, an API error, an unexpected
    # answer) would otherwise print a stack trace into the person's command line.
    except Exception:
        return []


def workflow_names(incomplete: str) -> Completion:
    """My workflows' names that start with what was typed (their description beside)."""

    def ask(client: Client) -> Completion:
        page = client.list_workflows(sort="name", limit=PAGE)
        return [
            (workflow.name, workflow.description or "")
            for workflow in page.items
            if workflow.name.startswith(incomplete)
        ]

    return _ask(ask)


def execution_ids(incomplete: str) -> Completion:
    """My latest executions' ids that start with what was typed (status and time beside)."""

    def ask(client: Client) -> Completion:
        page = client.list_executions(limit=PAGE)
        return [
            (str(execution.id), f"{execution.status} {execution.created_at:%Y-%m-%d %H:%M}")
            for execution in page.items
            if str(execution.id).startswith(incomplete)
        ]

    return _ask(ask)

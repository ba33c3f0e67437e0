"""What every `flowdeck` command prints through, and the codes it exits with.

Exit codes: 0 success; 1 an error a person can cause or fix (a bad setting, an
unreachable server or database, a failing migration, an API error): one message on
stderr, never a stack trace; 2 a usage error (Typer's); 3 an execution that failed, was
cancelled or skipped (the command itself worked); 128 + N when stopped by signal N.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

EXIT_FAILURE = 1
EXIT_EXECUTION_FAILED = 3  # the command worked; the execution did not succeed


def _console(*, stderr: bool, highlight: bool) -> Console:
    # Piped output is read by scripts and people alike: don't cut table cells at 80 columns.
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=highlight, width=None if stream.isatty() else 160)


# The client commands print what people wrote (names, values, messages) as it is.
out = _console(stderr=False, highlight=False)
err = _console(stderr=True, highlight=False)
# The server and database commands let Rich highlight numbers, ids and addresses (on a
# terminal only: piped, the text is the same).
highlighted_out = _console(stderr=False, highlight=True)
highlighted_err = _console(stderr=True, highlight=True)


def fail(message: str) -> NoReturn:
    """End the command with `message` as one error line on stderr, and exit 1."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(EXIT_FAILURE)

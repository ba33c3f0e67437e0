"""`flowdeck db`, `flowdeck users` and `flowdeck tokens`: the operator's commands, on
the database directly, not over the API."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from flowdeck.cli.console import EXIT_FAILURE
from flowdeck.cli.console import highlighted_err as err
from flowdeck.cli.console import highlighted_out as out
from flowdeck.errors import ConfigError

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.rows import DictRow

    from flowdeck.users.service import IssuedToken

# The database driver, the migrations, argon2 (in users) and the settings are imported
# inside each command, when it runs: `flowdeck --help` and the client commands parse
# this module's options and must not pay for them.

db_app = typer.Typer(help="Migrate and inspect the database.", no_args_is_help=True)
users_app = typer.Typer(
    help="Manage user accounts (works on the database directly).", no_args_is_help=True
)
tokens_app = typer.Typer(
    help="Manage API tokens (works on the database directly).", no_args_is_help=True
)


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="The login; unique, ignoring case.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make an administrator.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user. Without --password-stdin a random password is made and printed."""
    from flowdeck.cli import database
    from flowdeck.users import credentials, service

    password = sys.stdin.readline().rstrip("\n") if password_stdin else credentials.new_password()
    if not password:
        raise ConfigError("The password read from standard input is empty.")
    user = database.run(
        lambda conn: service.create_user(
            conn, email, display_name=name, password=password, is_admin=admin
        )
    )
    out.print(f"Created {'administrator' if user.is_admin else 'user'} {user.email} ({user.id}).")
    if not password_stdin:
        out.print(f"Password: {password}", highlight=False)


@tokens_app.command("create")
def tokens_create(
    email: Annotated[str, typer.Option(help="Whose token.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    expires: Annotated[
        str | None, typer.Option(help="Lifetime, e.g. 30d, 12h, 90m; none: never expires.")
    ] = None,
) -> None:
    """Create an API token and print it (it is shown this once)."""
    from flowdeck.cli import database
    from flowdeck.users import service

    lifetime = _parse_lifetime(expires) if expires else None

    async def create(conn: AsyncConnection[DictRow]) -> IssuedToken:
        user = await service.user_by_email(conn, email)
        expires_at = datetime.now(UTC) + lifetime if lifetime else None
        return await service.create_token(conn, user, name, expires_at=expires_at)

    issued = database.run(create)
    print(issued.token)  # plain stdout, so that scripts can capture it
    err.print(f"Token {issued.row['prefix']}… for {email}; it is shown this once.")


def _parse_lifetime(text: str) -> timedelta:
    from flowdeck.definition.durations import parse_duration

    try:
        lifetime = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"--expires {text!r}: {exc}") from None
    if lifetime.total_seconds() <= 0:
        raise ConfigError(f"--expires {text!r}: must be longer than zero.")
    return lifetime


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply every pending migration (safe to run from many processes at once).

    A legacy database is adopted first; each column it converted is printed.
    """
    from flowdeck.config import load_settings
    from flowdeck.db.connect import open_database
    from flowdeck.db.migrate import run_migrations

    with open_database(load_settings()) as url:
        report = run_migrations(url)
    for adoption in report.adopted:
        out.print(f"adopted: {escape(str(adoption))}", soft_wrap=True)
    applied = report.applied
    if applied:
        out.print(f"Applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        out.print("The database is up to date; nothing to apply.")


@db_app.command("status")
def db_status() -> None:
    """List applied and pending migration files."""
    from rich.table import Table

    from flowdeck.config import load_settings
    from flowdeck.db.connect import open_database
    from flowdeck.db.migrate import status

    with open_database(load_settings()) as url:
        state = status(url)
    table = Table()
    for heading in ("file", "state", "applied at (UTC)", "duration"):
        table.add_column(heading, no_wrap=True)
    for record in state.applied:
        label = "changed!" if record.filename in state.changed else "applied"
        if record.filename in state.unknown:
            label = "from a newer version"
        table.add_row(
            record.filename,
            label,
            record.applied_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            f"{record.duration_ms} ms",
        )
    for file in state.pending:
        table.add_row(file.name, "pending", "", "")
    out.print(table)
    for problem in state.problems():
        err.print(f"[red]problem:[/red] {escape(problem)}", soft_wrap=True)
    for warning in state.warnings():
        err.print(f"[yellow]note:[/yellow] {escape(warning)}", soft_wrap=True)
    out.print(f"{len(state.applied)} applied, {len(state.pending)} pending.")
    if state.changed:
        raise typer.Exit(EXIT_FAILURE)


@db_app.command("verify")
def db_verify() -> None:
    """Compare the live schema with what the migrations declare; exit 1 on any difference."""
    from flowdeck.config import load_settings
    from flowdeck.db.connect import open_database
    from flowdeck.db.schema import verify

    with open_database(load_settings()) as url:
        differences = verify(url)
    if not differences:
        out.print("The schema matches the migrations.")
        return
    for difference in differences:
        out.print(f"- {difference}", markup=False, highlight=False, soft_wrap=True)
    err.print(f"{len(differences)} difference(s) between the database and the migrations.")
    raise typer.Exit(EXIT_FAILURE)

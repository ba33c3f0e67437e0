"""`flowdeck login`: sign in once, keep an API token in the config file."""

from __future__ import annotations

import socket
import sys
from typing import Annotated

import typer

from flowdeck.cli.console import err, out
from flowdeck.client import Client
from flowdeck.client.config import config_path, resolve, write_config_file
from flowdeck.errors import ConfigError


def login(
    url: Annotated[
        str | None, typer.Option(help="The server; asked when not given (default shown).")
    ] = None,
    email: Annotated[str | None, typer.Option(help="Your email; asked when not given.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(help="Save this API token instead of signing in with a password."),
    ] = None,
    token_name: Annotated[
        str | None, typer.Option(help="Name of the token made (default: 'cli on <host>').")
    ] = None,
) -> None:
    """Sign in to a Flowdeck server and save an API token for the other commands."""
    path = config_path()
    server = (url or typer.prompt("Flowdeck URL", default=resolve().url)).rstrip("/")
    if token is None:
        token = _token_by_password(server, email, password_stdin, token_name)
    with Client(server, token, config_path=path) as client:
        me = client.me()  # the token works: only then is it saved
    write_config_file(path, server, token)
    out.print(f"Logged in to {server} as {me.email}.")
    err.print(f"The token is saved in {path} (readable by you only).")


def _token_by_password(
    server: str, email: str | None, password_stdin: bool, token_name: str | None
) -> str:
    email = email or typer.prompt("Email")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True)
    if not password:
        raise ConfigError("The password is empty.")
    name = token_name or f"cli on {socket.gethostname()}"
    with Client(server, anonymous=True, config_path=config_path()) as client:
        me = client.login(email, password)
        issued = client.create_token(name, csrf_token=me.csrf_token)
        client.logout(csrf_token=me.csrf_token)  # the token is what the CLI keeps
    return issued.token

"""Where the client connects, and as whom: explicit arguments, else FLOWDECK_URL /
FLOWDECK_TOKEN, else the config file that `flowdeck login` writes.

The file (TOML, mode 0600) is `$FLOWDECK_CONFIG` when set, else `config.toml` in the
per-user config directory (~/.config/flowdeck/config.toml on Linux). Its token is used
only for the server it was made for: pointing FLOWDECK_URL elsewhere never sends it
to another server.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import platformdirs

from flowdeck.errors import ConfigError

DEFAULT_URL = "http://127.0.0.1:8080"
URL_ENV = "FLOWDECK_URL"
TOKEN_ENV = "FLOWDECK_TOKEN"  # noqa: S105 (the variable's name, not a secret)
CONFIG_ENV = "FLOWDECK_CONFIG"


@dataclass(frozen=True)
class ClientConfig:
    """A resolved server URL and token (None: no token was found)."""

    url: str
    token: str | None


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The config file: $FLOWDECK_CONFIG, else config.toml in the user config directory."""
    env = os.environ if env is None else env
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV]).expanduser()
    return platformdirs.user_config_path("flowdeck", appauthor=False) / "config.toml"


def read_config_file(path: Path) -> dict[str, str]:
    """The `url` and `token` saved in `path`; empty when there is no such file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc}") from None
    return {key: value for key, value in data.items() if isinstance(value, str)}


def write_config_file(path: Path, url: str, token: str) -> None:
    """Save `url` and `token` to `path`, readable by its owner only (0600)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # JSON strings are valid TOML basic strings (with ensure_ascii, escapes are \uXXXX).
    text = (
        "# Written by `flowdeck login`. The token is a secret: keep this file private.\n"
        f"url = {json.dumps(url)}\ntoken = {json.dumps(token)}\n"
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), 0o600)  # also when the file existed with wider rights
        file.write(text)


def _same_server(left: str, right: str) -> bool:
    return left.rstrip("/") == right.rstrip("/")


def resolve(
    url: str | None = None,
    token: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> ClientConfig:
    """The URL and token to use: arguments, then the environment, then the config file."""
    env = os.environ if env is None else env
    saved = read_config_file(path if path is not None else config_path(env))
    chosen_url = url or env.get(URL_ENV) or saved.get("url") or DEFAULT_URL
    chosen_token = token or env.get(TOKEN_ENV)
    if not chosen_token and saved.get("token"):
        if _same_server(chosen_url, saved.get("url", DEFAULT_URL)):
            chosen_token = saved["token"]
    return ClientConfig(url=chosen_url.rstrip("/"), token=chosen_token or None)


def missing_token_error(config: ClientConfig) -> ConfigError:
    return ConfigError(
        f"No API token for {config.url}: run `flowdeck login`, or set {TOKEN_ENV} "
        "(make a token with `flowdeck tokens create`)."
    )


@dataclass(frozen=True)
class HttpOptions:
    """What both clients give httpx: base URL, auth header, timeouts."""

    base_url: str
    headers: dict[str, str]
    timeout: httpx.Timeout


def connect_options(
    url: str | None, token: str | None, config_path: Path | None, anonymous: bool, timeout: float
) -> tuple[ClientConfig, HttpOptions]:
    """What a client needs to start: the resolved config and its httpx options. Without
    a token this is a ConfigError, unless `anonymous` (to log in)."""
    config = resolve(url, token, path=config_path)
    if config.token is None and not anonymous:
        raise missing_token_error(config)
    return config, http_options(config, timeout)


def http_options(config: ClientConfig, timeout: float) -> HttpOptions:
    headers = {"User-Agent": "flowdeck-client", "Accept": "application/json"}
    if config.token:
        headers["Authorization"] = f"Bearer {config.token}"
    return HttpOptions(config.url, headers, httpx.Timeout(timeout, connect=min(timeout, 10.0)))

"""Settings, read from the environment (`FLOWDECK_*`) when the app factory or CLI asks.

Nothing here runs at import time: `Settings()` is built by whoever starts Flowdeck,
so tests and subprocesses each get the environment they were given.
"""

from __future__ import annotations

from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated

import platformdirs
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from flowdeck.definition.limits import ExpressionLimits
from flowdeck.engine.outbound import OutboundPolicy, parse_networks
from flowdeck.errors import ConfigError

_EXPRESSION_DEFAULTS = ExpressionLimits()


def default_data_dir() -> Path:
    """The per-user data directory (e.g. ~/.local/share/flowdeck on Linux)."""
    return platformdirs.user_data_path("flowdeck", appauthor=False)


class Settings(BaseSettings):
    """Everything Flowdeck reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="FLOWDECK_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL; when unset, Flowdeck starts its embedded server.",
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where Flowdeck keeps its files; the embedded server's data is in pgdata/.",
    )
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: str | None = Field(
        default=None,
        description="Signs session cookies; when unset, a key kept in the database is used.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Larger request bodies are answered 413."
    )
    execution_retention: str = Field(
        default="30d",
        description="Finished executions older than this are deleted; 'never' keeps them.",
    )
    cookie_secure: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (set behind TLS)."
    )
    # Limits on every YAML or JSON document a person sends, checked while it is parsed
    # (docs/definition.md, "Limits"; the parser's own defaults, flowdeck.documents.limits,
    # are the same and a unit test keeps them so). YAML's aliases count as what they
    # repeat: 100,000 nodes and 2 MiB of text bound what a JSON copy, a validator and a
    # jsonb row must hold, whatever the document's size on the wire. 2 MiB is twice the
    # default body limit, so a document without aliases is not refused for its text;
    # raise it with FLOWDECK_MAX_BODY_BYTES. 64 levels leave room over the deepest
    # built-in template and documented example.
    document_max_nodes: int = Field(
        default=100_000,
        ge=1,
        description="Nodes (mappings, lists, keys, values) a document may have, aliases expanded.",
    )
    document_max_depth: int = Field(default=64, ge=1, description="How deeply a document may nest.")
    document_max_expanded_bytes: int = Field(
        default=2 * 1024 * 1024,
        ge=1,
        description="Bytes of text (keys and values) a document may hold, aliases expanded.",
    )

    # --- limits on the work users' definitions make a worker do (docs/operations.md) ------
    expression_max_size: int = Field(
        default=_EXPRESSION_DEFAULTS.max_size,
        ge=1000,
        description="Characters or items of any value one expression builds on its way.",
    )
    expression_max_operations: int = Field(
        default=_EXPRESSION_DEFAULTS.max_operations,
        ge=1000,
        description="Loop iterations plus calls one evaluation of an expression may make.",
    )
    expression_timeout: float = Field(
        default=_EXPRESSION_DEFAULTS.max_seconds,
        gt=0,
        description="Seconds one evaluation of an expression may run.",
    )
    step_crash_limit: int = Field(
        default=3,
        ge=1,
        description="Times in a row an execution may lose its worker without progress "
        "before it fails.",
    )
    worker_memory_mb: int = Field(
        default=1024,
        ge=0,
        description="Memory a worker process may allocate (MiB); 0: no cap.",
    )
    worker_block_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a step may hold a supervised worker's event loop before the "
        "step fails and the worker is restarted.",
    )

    # --- where http, email and llm steps may connect (docs/operations.md) -----------------
    # Comma-separated networks, checked on the address a step connects to after DNS. Deny
    # wins; a non-empty allow list permits only its networks. Link-local (cloud metadata)
    # is denied by default; loopback and private networks are not (self-hosted users
    # automate their own services).
    outbound_deny: str = Field(
        default="169.254.0.0/16,fe80::/10",
        description="Networks steps may never connect to (comma-separated); empty: none.",
    )
    outbound_allow: str = Field(
        default="",
        description="When set, the only networks steps may connect to (comma-separated).",
    )

    @model_validator(mode="after")
    def _outbound_networks(self) -> Settings:
        # A malformed network stops every command at start-up, naming the setting, rather
        # than the first step that connects.
        for name, value in (("DENY", self.outbound_deny), ("ALLOW", self.outbound_allow)):
            try:
                parse_networks(value)
            except ValueError as exc:
                raise ValueError(f"FLOWDECK_OUTBOUND_{name}: {exc} (got {value!r})") from None
        return self

    def outbound_policy(self) -> OutboundPolicy:
        """FLOWDECK_OUTBOUND_DENY and FLOWDECK_OUTBOUND_ALLOW as the workers' policy."""
        return OutboundPolicy(
            deny=parse_networks(self.outbound_deny), allow=parse_networks(self.outbound_allow)
        )

    # --- sign-in throttling and the proxies in front (docs/operations.md) -----------------
    # 10 failures per account in 15 minutes: far more than a person mistyping needs, and
    # about 1,000 guesses a day at most against one account; 50 per address leaves room
    # for an office or a NAT of people mistyping, and stops one host spraying one password
    # over many accounts. The window is also how long a throttled key waits at most.
    signin_max_failures_per_account: int = Field(
        default=10,
        ge=0,
        description="Failed sign-ins per account e-mail in a window before the next are "
        "refused (429); 0: no limit.",
    )
    signin_max_failures_per_address: int = Field(
        default=50,
        ge=0,
        description="Failed sign-ins from one client address in a window before the next "
        "are refused (429); 0: no limit.",
    )
    signin_window: timedelta = Field(
        default=timedelta(minutes=15),
        description="How long failed sign-ins are counted (a duration: 15m, 1h, 900).",
    )
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = Field(
        default=(),
        description="Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are "
        "believed: addresses or networks, separated by commas.",
    )

    @field_validator("signin_window", mode="before")
    @classmethod
    def _window_duration(cls, value: object) -> object:
        from flowdeck.definition.durations import parse_duration

        if isinstance(value, str):
            value = parse_duration(value)
        if isinstance(value, timedelta) and value < timedelta(seconds=1):
            raise ValueError("must be at least one second")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.replace(",", " ").split() if part]
        if isinstance(value, list | tuple):
            # A plain address is a network of one; host bits set are accepted (10.0.0.7/8).
            return tuple(ip_network(str(part).strip(), strict=False) for part in value)
        return value

    @model_validator(mode="after")
    def _watchdog_after_expressions(self) -> Settings:
        # An expression's own time limit ends it with a clear message; the watchdog,
        # which kills the worker, is for what that limit cannot stop.
        if self.worker_block_seconds <= self.expression_timeout:
            raise ValueError(
                f"FLOWDECK_WORKER_BLOCK_SECONDS ({self.worker_block_seconds:g}) must be longer "
                f"than FLOWDECK_EXPRESSION_TIMEOUT ({self.expression_timeout:g})"
            )
        return self

    def expression_limits(self) -> ExpressionLimits:
        return ExpressionLimits(
            max_size=self.expression_max_size,
            max_operations=self.expression_max_operations,
            max_seconds=self.expression_timeout,
        )

    def retention(self) -> timedelta | None:
        """FLOWDECK_EXECUTION_RETENTION as a duration; None for 'never'."""
        from flowdeck.definition.durations import parse_duration

        if self.execution_retention.strip().lower() in ("never", "forever", "0"):
            return None
        try:
            return parse_duration(self.execution_retention)
        except ValueError as exc:
            raise ConfigError(f"FLOWDECK_EXECUTION_RETENTION: {exc}") from None

    @property
    def pgdata_dir(self) -> Path:
        """The embedded PostgreSQL server's data directory."""
        return self.data_dir / "pgdata"


def _problem(error: ErrorDetails) -> str:
    if not error["loc"]:  # a rule between settings: its message names them
        return str(error["msg"]).removeprefix("Value error, ")
    name = "FLOWDECK_" + "_".join(str(part) for part in error["loc"]).upper()
    return f"{name}: {error['msg']} (got {error['input']!r})"


def load_settings() -> Settings:
    """Build the settings, turning a bad value into an error that names the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise ConfigError(f"Invalid setting: {problems}") from exc

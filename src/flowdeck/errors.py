"""Errors that Flowdeck reports to a person: a message that says what and where, no stack trace."""

from __future__ import annotations


class FlowdeckError(Exception):
    """Base of every error whose message is meant to be shown as it is."""


class ConfigError(FlowdeckError):
    """A setting is missing or unusable."""


class DatabaseUnavailableError(FlowdeckError):
    """The database cannot be reached or started."""

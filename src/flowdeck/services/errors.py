"""The domain errors the services raise; the API and the pages each map them to an
answer in one place (`flowdeck.api.errors`, `flowdeck.web.routing`).

- NotFound: nothing of the actor's there (another user's is not found either).
- Conflict: the thing is in a state that refuses this (a stable `code`).
- Invalid: what was sent breaks rules; every `Issue` with its JSON path.
- BadRequest: what was sent cannot even be read (a stable `code`: malformed_document,
  document_too_complex, invalid_cursor, malformed_json, bad_request).
- Forbidden: the actor may not do this.
- Unauthenticated: the credential sent is wrong (a stable `code`).
- Throttled: refused for now; `retry_after` seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from flowdeck.definition.issues import DefinitionError, Issue, join_path
from flowdeck.documents import DocumentTooComplexError


class DomainError(Exception):
    """Base of the errors a service raises; `message` is for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """Nothing (of the actor's) there."""

    @classmethod
    def of(cls, what: str) -> NotFound:
        """'The workflow' -> 'The workflow was not found.'"""
        return cls(f"{what} was not found.")


T = TypeVar("T")


def found(row: T | None, what: str) -> T:
    """`row`, or NotFound of `what` ('The workflow') when there is none."""
    if row is None:
        raise NotFound.of(what)
    return row


class Conflict(DomainError):
    """The current state refuses the change; `code` says which state."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Invalid(DomainError):
    """What was sent breaks rules: every problem, with its JSON path."""

    def __init__(self, message: str, issues: Sequence[Issue] = ()) -> None:
        super().__init__(message)
        self.issues = list(issues)


class BadRequest(DomainError):
    """What was sent cannot be read at all; `code` says how."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Forbidden(DomainError):
    """The actor may not do this."""

    def __init__(self, message: str, code: str = "forbidden") -> None:
        super().__init__(message)
        self.code = code


class Unauthenticated(DomainError):
    """The credential sent is not good (a wrong password, a bad signature ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Throttled(DomainError):
    """Refused for now; try again in `retry_after` seconds."""

    def __init__(self, code: str, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


def prefixed_path(prefix: str, path: str) -> str:
    """A path inside a document placed at `prefix`: definition + steps[0] -> definition.steps[0]."""
    if not prefix:
        return path
    if not path:
        return prefix
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def definition_invalid(error: DefinitionError, prefix: str = "definition") -> Invalid:
    """A definition's issues, with paths from the document's root."""
    details = [Issue(prefixed_path(prefix, issue.path), issue.message) for issue in error.issues]
    count = len(details)
    noun = "problem" if count == 1 else "problems"
    return Invalid(f"The request has {count} {noun}; each is listed with its path.", details)


def unstorable(path: str, problem: str) -> Invalid:
    """Text or a number the database cannot hold (a NUL, a lone surrogate, infinity) at
    `path`: invalid, naming the field."""
    where = path or "the request body"
    return Invalid(f"The value at {where} {problem}.", [Issue(path, problem)])


def document_too_complex(error: DocumentTooComplexError) -> BadRequest:
    """A document past a limit (FLOWDECK_DOCUMENT_MAX_*): the message names it and the line."""
    return BadRequest("document_too_complex", str(error))


def location_path(location: Sequence[int | str]) -> str:
    """A pydantic location as a JSON path: ("body", "steps", 2, "with") -> steps[2].with."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        source, parts = parts[0], parts[1:]
        if source != "body" and parts:
            return f"{source}.{parts[0]}"
    return join_path("", *parts)

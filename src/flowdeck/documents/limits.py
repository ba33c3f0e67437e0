"""How big a document may be, the errors of a document that cannot be taken, and the tally
that counts a document as it is parsed and stops it at the first limit passed.

Three limits, each a setting (see `flowdeck.config`): the nodes of the document (every
mapping, list, key and value counts one), how deeply it nests, and the bytes of its
text (keys and scalar values, UTF-8). For YAML the counts are of the document with its
aliases expanded: an alias counts as everything the node it repeats counts, which is
what a JSON copy of the document, a validator or a database row would have to hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flowdeck.errors import FlowdeckError

DEFAULT_MAX_NODES = 100_000
DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_EXPANDED_BYTES = 2 * 1024 * 1024

NODES_SETTING = "FLOWDECK_DOCUMENT_MAX_NODES"
DEPTH_SETTING = "FLOWDECK_DOCUMENT_MAX_DEPTH"
BYTES_SETTING = "FLOWDECK_DOCUMENT_MAX_EXPANDED_BYTES"

DOCUMENT = "The document"


class LimitSettings(Protocol):
    """What the limits are read from: flowdeck.config.Settings (not imported: it is above)."""

    document_max_nodes: int
    document_max_depth: int
    document_max_expanded_bytes: int


@dataclass(frozen=True)
class DocumentLimits:
    """The limits one parse is held to (the settings' values, or these defaults)."""

    max_nodes: int = DEFAULT_MAX_NODES
    max_depth: int = DEFAULT_MAX_DEPTH
    max_expanded_bytes: int = DEFAULT_MAX_EXPANDED_BYTES

    @classmethod
    def of(cls, settings: LimitSettings) -> DocumentLimits:
        """The limits the settings give (FLOWDECK_DOCUMENT_MAX_*)."""
        return cls(
            max_nodes=settings.document_max_nodes,
            max_depth=settings.document_max_depth,
            max_expanded_bytes=settings.document_max_expanded_bytes,
        )


DEFAULT_LIMITS = DocumentLimits()


class DocumentError(FlowdeckError):
    """A document that cannot be taken: `problem` says what, `line` and `column` (1-based,
    None when unknown) where; the message is both, as one sentence."""

    def __init__(
        self, problem: str, line: int | None = None, column: int | None = None, *, message: str
    ) -> None:
        self.problem = problem
        self.line = line
        self.column = column
        super().__init__(message)

    def position(self, *, column: bool = True) -> str:
        """Where the document broke: "line 3, column 5", "line 3", or "" when unknown."""
        return _position(self.line, self.column if column else None)


def _position(line: int | None, column: int | None) -> str:
    if line is None:
        return ""
    return f"line {line}, column {column}" if column is not None else f"line {line}"


class MalformedDocumentError(DocumentError):
    """Text that is not valid JSON or YAML; the message has the line and column."""

    def __init__(
        self, language: str, problem: str, line: int | None = None, column: int | None = None
    ) -> None:
        where = ""
        if line is not None:
            where = f" at {_position(line, column)}"
        super().__init__(problem, line, column, message=f"Not valid {language}: {problem}{where}.")


class DocumentRefusedError(DocumentError):
    """A document that parsed but cannot be taken (too complex, or holding a value no
    database column stores); `problem` says why, for a message of one's own."""


class DocumentTooComplexError(DocumentRefusedError):
    """A document past one of the limits; the message names the setting and its value."""

    def __init__(self, problem: str, setting: str, limit: int, line: int | None) -> None:
        self.setting = setting
        self.limit = limit
        where = f" at {_position(line, None)}" if line is not None else ""
        super().__init__(problem, line, message=f"{problem}{where}.")


def text_bytes(text: str) -> int:
    """The UTF-8 length of `text` (lone surrogates, which JSON escapes allow, count as 3)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class Tally:
    """The running count of one parse; `add` and `enter` raise as soon as a limit is passed.

    `expanded` says whether the document may repeat nodes (YAML aliases): the messages
    then say that the count is of the expanded document, which can be far larger than
    its text.
    """

    def __init__(self, limits: DocumentLimits, *, subject: str, expanded: bool) -> None:
        self.limits = limits
        self.subject = subject
        self.expanded = " once its aliases are expanded" if expanded else ""
        self.nodes = 0
        self.bytes = 0

    def add(self, nodes: int, size: int, line: int | None) -> None:
        """Count `nodes` more nodes holding `size` more bytes of text."""
        self.nodes += nodes
        self.bytes += size
        if self.nodes > self.limits.max_nodes:
            limit = self.limits.max_nodes
            raise DocumentTooComplexError(
                f"{self.subject} has more than {limit} nodes{self.expanded} ({NODES_SETTING})",
                NODES_SETTING,
                limit,
                line,
            )
        if self.bytes > self.limits.max_expanded_bytes:
            limit = self.limits.max_expanded_bytes
            raise DocumentTooComplexError(
                f"{self.subject} has more than {limit} bytes of text{self.expanded} "
                f"({BYTES_SETTING})",
                BYTES_SETTING,
                limit,
                line,
            )

    def enter(self, depth: int, line: int | None) -> None:
        """A node at nesting level `depth` (the document itself is level 1)."""
        if depth > self.limits.max_depth:
            raise self.too_deep(line)

    def too_deep(self, line: int | None) -> DocumentTooComplexError:
        limit = self.limits.max_depth
        return DocumentTooComplexError(
            f"{self.subject} is nested more than {limit} levels deep ({DEPTH_SETTING})",
            DEPTH_SETTING,
            limit,
            line,
        )

"""YAML with limits: a safe loader whose composer counts the document while composing it.

PyYAML's safe loader shares an aliased node instead of copying it, so a few hundred
bytes of anchors that repeat each other nine times a level parse in a blink and then
stand for millions of nodes: whoever walks, validates or serialises the result pays.
Here every node is counted as it is composed, an alias as the whole size (nodes and
text) of the node it repeats, and the nesting depth is tracked; the parse stops at the
first limit passed, with the line, before anything is built. Depth is checked before
the composer goes a level down, so deep nesting never reaches Python's recursion limit.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent, Event, NodeEvent, ScalarEvent
from yaml.nodes import Node
from yaml.tokens import Token

from flowdeck.documents.limits import (
    DEFAULT_LIMITS,
    DOCUMENT,
    DocumentLimits,
    MalformedDocumentError,
    Tally,
    text_bytes,
)
from flowdeck.documents.text import UnstorableValueError, first_unstorable

LANGUAGE = "YAML"


class BoundedSafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader held to `limits`; raises DocumentTooComplexError at the first one
    passed, and refuses an alias inside the node it names (a cycle JSON cannot hold)."""

    def __init__(
        self, stream: str, limits: DocumentLimits = DEFAULT_LIMITS, *, subject: str = DOCUMENT
    ) -> None:
        super().__init__(stream)
        self.tally = Tally(limits, subject=subject, expanded=True)
        self.depth = 0
        # The expanded size (nodes, bytes) of each anchored node composed so far.
        self.anchor_sizes: dict[str, tuple[int, int]] = {}

    def fetch_flow_collection_start(self, token_class: type[Token]) -> None:
        # Each `[` or `{` is a level deeper, so it is refused here, in the scanner: PyYAML
        # scans up to 1024 characters ahead for a possible key, and `[[[[...` costs it
        # time quadratic in those characters before the composer sees the first node.
        if self.flow_level >= self.tally.limits.max_depth:
            raise self.tally.too_deep(self.get_mark().line + 1)
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event: Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stubs
        mark: Any = event.start_mark  # the pure-Python parser's Mark (the stubs allow libyaml's)
        line = mark.line + 1 if mark is not None else None
        if isinstance(event, AliasEvent):
            anchor = str(event.anchor)
            size = self.anchor_sizes.get(anchor)
            if size is not None:
                self.tally.add(*size, line=line)
            elif anchor in self.anchors:
                # The anchored node is still being composed: the alias is inside it.
                raise ComposerError(
                    None,
                    None,
                    f"found alias *{anchor} inside the node it names; a document that "
                    "contains itself cannot be JSON",
                    mark,
                )
            # (An undefined alias is reported by PyYAML itself.)
            return super().compose_node(parent, index)
        self.depth += 1
        self.tally.enter(self.depth, line)
        before = (self.tally.nodes, self.tally.bytes)
        self.tally.add(1, text_bytes(event.value) if isinstance(event, ScalarEvent) else 0, line)
        node = super().compose_node(parent, index)
        self.depth -= 1
        if isinstance(event, NodeEvent) and event.anchor is not None:
            self.anchor_sizes[event.anchor] = (
                self.tally.nodes - before[0],
                self.tally.bytes - before[1],
            )
        return node


def load_yaml_tree(
    text: str,
    limits: DocumentLimits = DEFAULT_LIMITS,
    *,
    loader: type[BoundedSafeLoader] = BoundedSafeLoader,
    subject: str = DOCUMENT,
) -> tuple[Node | None, Any]:
    """The composed node tree (lines of every key and value) and the data it stands for.

    Raises MalformedDocumentError for text that is not YAML (with its line and column) and
    DocumentTooComplexError past a limit. `loader` may be a subclass with stricter rules.
    """
    parser: BoundedSafeLoader | None = None
    try:
        # Inside the try: the loader checks the characters of the text when it is made.
        parser = loader(text, limits, subject=subject)
        root = parser.get_single_node()
        data = parser.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = str(exc.problem or exc.context or "invalid YAML")
        if mark is None:
            raise MalformedDocumentError(LANGUAGE, problem) from None
        raise MalformedDocumentError(LANGUAGE, problem, mark.line + 1, mark.column + 1) from None
    except yaml.reader.ReaderError as exc:
        # A character YAML does not allow (a control character): the reader knows where.
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        char = exc.character
        code = char if isinstance(char, int) else ord(char)
        problem = f"unacceptable character #x{code:04x}: {exc.reason}"
        raise MalformedDocumentError(LANGUAGE, problem, line, column) from None
    except yaml.YAMLError as exc:
        raise MalformedDocumentError(LANGUAGE, str(exc)) from None
    finally:
        if parser is not None:
            parser.dispose()
    # Text no database column holds (a "\0" escape): a walk of the data, as YAML is not
    # on any hot path and the walk costs little beside the parse. Values JSON cannot hold
    # (`.inf`, dates) are the callers' to refuse, with the definition's own messages
    # (flowdeck.definition.values.json_problems).
    found = first_unstorable(data, numbers=False)
    if found is not None:
        path, problem, key = found
        raise UnstorableValueError(subject, path, problem, key=key)
    return root, data


def load_yaml(
    text: str,
    limits: DocumentLimits = DEFAULT_LIMITS,
    *,
    loader: type[BoundedSafeLoader] = BoundedSafeLoader,
    subject: str = DOCUMENT,
) -> Any:
    """The data of a YAML document (JSON is YAML too), held to `limits`; see load_yaml_tree."""
    return load_yaml_tree(text, limits, loader=loader, subject=subject)[1]

"""Where in a YAML text a validation issue points: its JSON path mapped to a line.

The definition editor shows each problem next to its line. Validation speaks in JSON
paths (`steps[2].with.url`); the YAML's node tree (PyYAML's `compose`) knows the line
of every key and value, so the path is walked down that tree. When a path goes
further than the text (a missing key), the deepest node found is the answer: the
problem is "in there".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from flowdeck.definition.issues import DefinitionError, json_problems
from flowdeck.documents import (
    DEFAULT_LIMITS,
    DocumentLimits,
    DocumentRefusedError,
    MalformedDocumentError,
    load_yaml_tree,
)
from flowdeck.workflows.documents import check_definition, ordered_definition

# One path part: `.name`, `name` at the start, `[3]` or `["quoted key"]`.
_PART = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


@dataclass(frozen=True)
class LineIssue:
    """An issue with the 1-based line it points to (None: the document as a whole)."""

    line: int | None
    path: str
    message: str


def path_parts(path: str) -> list[str | int]:
    """`steps[2].with["Content-Type"]` -> ["steps", 2, "with", "Content-Type"]."""
    parts: list[str | int] = []
    position = 0
    while position < len(path):
        match = _PART.match(path, position)
        if match is None:
            break  # an unexpected shape: keep what was understood
        name, index, quoted = match.groups()
        if name is not None:
            parts.append(name)
        elif index is not None:
            parts.append(int(index))
        else:
            parts.append(json.loads(quoted))
        position = match.end()
    return parts


def _child(node: Node, part: str | int) -> Node | None:
    """The key node (for a mapping: the line where the key is written) or the item."""
    if isinstance(node, MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if getattr(key, "value", None) == part:
                # A scalar's problem is on its key's line; a block below the key starts there too.
                return value if isinstance(value, MappingNode | SequenceNode) else key
        return None
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        child: Node = node.value[part]
        return child
    return None


def _key_line(node: Node, part: str | int) -> int | None:
    if isinstance(node, MappingNode) and isinstance(part, str):
        for key, _ in node.value:
            if getattr(key, "value", None) == part:
                return int(key.start_mark.line) + 1
    return None


def line_of(root: Node | None, path: str) -> int | None:
    """The line a path points to in the composed document (None when it is empty)."""
    if root is None:
        return None
    node = root
    line = int(root.start_mark.line) + 1
    for part in path_parts(path):
        key_line = _key_line(node, part)
        child = _child(node, part)
        if child is None:
            break
        line = key_line if key_line is not None else int(child.start_mark.line) + 1
        node = child
    return line


def check_definition_text(
    text: str, limits: DocumentLimits = DEFAULT_LIMITS
) -> tuple[dict[str, Any] | None, list[LineIssue]]:
    """The definition written in the editor, and every problem in it with its line.

    The definition is None when there are problems: nothing half-checked is saved. The
    text is parsed within `limits`; a limit passed is one problem, at the line where the
    parse stopped.
    """
    try:
        root, document = load_yaml_tree(text, limits)
    except MalformedDocumentError as exc:
        return None, [LineIssue(exc.line, "", f"Not valid YAML: {exc.problem}")]
    except DocumentRefusedError as exc:
        return None, [LineIssue(exc.line, "", exc.problem)]
    if not isinstance(document, dict):
        return None, [LineIssue(1, "", "The definition must be a mapping with `steps`.")]
    not_json = [
        LineIssue(line_of(root, path), path, what) for path, what in json_problems(document)
    ]
    if not_json:
        return None, not_json
    try:
        check_definition(document)
    except DefinitionError as error:
        found = [LineIssue(line_of(root, i.path), i.path, i.message) for i in error.issues]
        return None, sorted(found, key=lambda issue: (issue.line or 0, issue.path))
    return document, []


def definition_yaml(definition: dict[str, Any]) -> str:
    """The definition as YAML for the editor, in the order people write it."""
    return yaml.safe_dump(
        ordered_definition(definition), sort_keys=False, allow_unicode=True, width=100
    )

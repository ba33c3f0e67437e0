"""The editor's line numbers: a validation issue's JSON path mapped to its YAML line, and
a definition shown as YAML in the order people write it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from flowdeck.web.yaml_lines import (
    LineIssue,
    check_definition_text,
    definition_yaml,
    line_of,
    path_parts,
)

TEXT = """\
goal: demo
inputs:
  who: {type: string}
steps:
  - id: first
    type: set
    with:
      x: 1
  - id: loop
    type: foreach
    items: [1, 2]
    steps:
      - id: inner
        type: http
        with:
          url: https://example.com
          headers:
            "Content-Type": text/plain
"""


def _root() -> yaml.Node:
    root = yaml.compose(TEXT, Loader=yaml.SafeLoader)
    assert root is not None
    return root


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("", []),
        ("steps", ["steps"]),
        ("steps[2].with.url", ["steps", 2, "with", "url"]),
        ('steps[0].with.headers["Content-Type"]', ["steps", 0, "with", "headers", "Content-Type"]),
        ('with["a.b"][3]["q\\"x"]', ["with", "a.b", 3, 'q"x']),
        ("outputs.total_2", ["outputs", "total_2"]),
        ("steps[1].-odd", ["steps", 1]),  # an unexpected shape: what was understood
    ],
)
def test_path_parts(path: str, parts: list[str | int]) -> None:
    assert path_parts(path) == parts


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("", 1),
        ("goal", 1),
        ("inputs.who", 3),
        ("inputs.who.type", 3),
        ("steps", 4),
        ("steps[0]", 5),
        ("steps[0].type", 6),
        ("steps[0].with", 7),
        ("steps[0].with.x", 8),
        ("steps[1].items", 11),
        ("steps[1].steps[0].id", 13),
        ("steps[1].steps[0].with.url", 16),
        ('steps[1].steps[0].with.headers["Content-Type"]', 18),
    ],
)
def test_line_of_a_path(path: str, line: int) -> None:
    assert line_of(_root(), path) == line


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("steps[0].with.missing", 7),  # the deepest node that exists: the `with` block
        ("steps[1].steps[0].with.body.text", 15),
        ("steps[7].id", 4),  # no such step: the list
        ("outputs.total", 1),  # nothing at all: the document
        ("steps[0].with.x.deeper", 8),  # below a scalar: the scalar's line
    ],
)
def test_a_missing_key_points_at_the_deepest_existing_node(path: str, line: int) -> None:
    assert line_of(_root(), path) == line


def test_an_empty_document_has_no_lines() -> None:
    assert line_of(None, "steps") is None


def test_a_valid_text_gives_its_definition() -> None:
    definition, issues = check_definition_text(TEXT)
    assert issues == []
    assert definition is not None
    assert definition["steps"][1]["steps"][0]["with"]["headers"] == {"Content-Type": "text/plain"}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("steps:\n  - id: a\n   type: set\n", 3),
        ("steps: [\n", 2),
        ("steps:\n  - id: 'a\n", 3),
        ("steps:\n\t- id: a\n", 2),
    ],
)
def test_a_syntax_error_is_one_issue_at_its_line(text: str, line: int) -> None:
    definition, issues = check_definition_text(text)
    assert definition is None
    assert len(issues) == 1
    assert issues[0].line == line and issues[0].path == ""
    assert issues[0].message.startswith("Not valid YAML: ")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a\n- b\n", "just text\n", "42\n"])
def test_a_document_that_is_not_a_mapping(text: str) -> None:
    assert check_definition_text(text) == (
        None,
        [LineIssue(1, "", "The definition must be a mapping with `steps`.")],
    )


def test_every_issue_is_reported_in_line_order() -> None:
    text = (
        "bogus: 1\n"  # 1
        "steps:\n"  # 2
        "  - id: a\n"  # 3
        "    type: http\n"  # 4
        "    with:\n"  # 5
        "      method: GET\n"  # 6
        "  - id: a\n"  # 7
        "    type: nope\n"  # 8
    )
    definition, issues = check_definition_text(text)
    assert definition is None
    found = [(issue.line, issue.path) for issue in issues]
    assert found == sorted(found, key=lambda item: (item[0] or 0, item[1]))
    assert (1, "bogus") in found
    assert (5, "steps[0].with.url") in found  # missing: at the `with` block
    assert (7, "steps[1].id") in found  # a duplicate id
    assert (8, "steps[1].type") in found
    assert all(issue.message for issue in issues)


DEFINITION: dict[str, Any] = {
    # The order PostgreSQL's jsonb gives back: shorter keys first.
    "steps": [
        {"with": {"message": "hi"}, "type": "log", "id": "hello"},
        {
            "if": "{{ true }}",
            "id": "pick",
            "else": [{"with": {"b": 2}, "id": "no", "type": "set"}],
            "then": [{"type": "set", "with": {"a": 1}, "id": "yes"}],
            "type": "branch",
        },
        {
            "id": "fan",
            "type": "parallel",
            "branches": {
                "one": [{"with": {"message": "m"}, "type": "log", "name": "One", "id": "o"}]
            },
        },
    ],
    "inputs": {"who": {"type": "string", "default": "you"}},
    "outputs": {"said": "{{ steps.hello.output }}"},
    "timeout": "1h",
}


def test_a_definition_is_shown_in_the_order_people_write_it() -> None:
    text = definition_yaml(DEFINITION)
    top = [line.split(":")[0] for line in text.splitlines() if line[:1].isalpha()]
    assert top == ["inputs", "timeout", "steps", "outputs"]
    assert text.index("- id: hello\n  type: log\n  with:") >= 0
    assert "- id: pick\n  type: branch\n  if: '{{ true }}'\n  else:" in text
    assert "  - id: yes\n    type: set\n    with:" in text.replace("'yes'", "yes")
    assert "  - id: no\n    type: set\n    with:" in text.replace("'no'", "no")
    assert "    - id: o\n      name: One\n      type: log\n" in text


def test_a_definition_shown_reads_back_the_same_and_checks_clean() -> None:
    text = definition_yaml(DEFINITION)
    assert yaml.safe_load(text) == DEFINITION
    definition, issues = check_definition_text(text)
    assert issues == []
    assert definition == DEFINITION
    assert definition_yaml({"steps": []}) == "steps: []\n"
    unicode = definition_yaml({"goal": "Grüße → 你好", "steps": []})
    assert "Grüße → 你好" in unicode  # written as is, not escaped


def test_goal_and_conditions_come_before_the_steps() -> None:
    text = definition_yaml(
        {"steps": [], "outputs": {}, "conditions": ["{{ true }}"], "inputs": {}, "goal": "g"}
    )
    top = [line.split(":")[0] for line in text.splitlines() if line[:1].isalpha()]
    assert top == ["goal", "inputs", "conditions", "steps", "outputs"]

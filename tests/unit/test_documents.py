"""The bounded parser: every YAML or JSON document a person sends is counted while it is
parsed, and refused at the first limit passed, quickly, naming the limit and the line.

The alias bomb here is the one from the report: a few hundred bytes whose anchors repeat
each other nine times a level. Unbounded, it stands for 43 million nodes; PyYAML parses
it in a blink because it shares aliased nodes, and whoever walks it pays.
"""

from __future__ import annotations

import base64
import json
import re
import time
from importlib import resources
from pathlib import Path

import pytest
from starlette.datastructures import FormData

from flowdeck.api.errors import answer
from flowdeck.catalog.loader import CatalogError, load_builtin_templates, load_template_text
from flowdeck.config import Settings
from flowdeck.definition.document import InputSpec, coerce_inputs, validate_definition
from flowdeck.definition.issues import DefinitionError
from flowdeck.documents import (
    DEFAULT_LIMITS,
    DocumentLimits,
    DocumentTooComplexError,
    MalformedDocumentError,
    load_json,
    load_yaml,
    load_yaml_tree,
)
from flowdeck.documents.json_loader import count
from flowdeck.documents.limits import Tally
from flowdeck.services.errors import BadRequest
from flowdeck.services.paging import decode_cursor
from flowdeck.web.inputs_form import read
from flowdeck.web.yaml_lines import LineIssue, check_definition_text
from flowdeck.workflows.documents import parse_text

ROOT = Path(__file__).resolve().parents[2]
FAST = 1.0  # seconds: "refused within a second", with room for a slow machine


def alias_bomb(levels: int = 9, word: str = "lol") -> str:
    """Nine-fold per level: level n stands for 9**n copies of `word`."""
    lines = [f"a0: &a0 [{', '.join([repr(word)] * 9)}]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def nested_block(levels: int) -> str:
    """Mappings in block style, each a level deeper: k1:\\n  k2:\\n    k3: ..."""
    return "".join(f"{'  ' * n}k{n}:\n" for n in range(levels - 1)) + f"{'  ' * levels}x\n"


def refusal(action: object, *args: object) -> tuple[DocumentTooComplexError, float]:
    """The limit error `action(*args)` raises, and how long it took to raise it."""
    started = time.perf_counter()
    with pytest.raises(DocumentTooComplexError) as caught:
        action(*args)  # type: ignore[operator]  # any parse function of this module
    return caught.value, time.perf_counter() - started


# --- the alias bomb ----------------------------------------------------------------------


def test_the_alias_bomb_is_refused_in_milliseconds_naming_the_node_limit() -> None:
    bomb = alias_bomb()
    assert len(bomb) < 1024
    error, took = refusal(load_yaml, bomb)
    assert took < FAST
    assert error.setting == "FLOWDECK_DOCUMENT_MAX_NODES" and error.limit == 100_000
    assert str(error) == (
        "The document has more than 100000 nodes once its aliases are expanded "
        "(FLOWDECK_DOCUMENT_MAX_NODES) at line 6."
    )
    assert error.line == 6  # 9**5 = 59049 words by a4; a5 passes 100000


def test_long_words_repeated_by_aliases_are_refused_by_the_text_limit() -> None:
    bomb = alias_bomb(levels=5, word="x" * 1000)  # few nodes, 6.5 MB of text expanded
    error, took = refusal(load_yaml, bomb)
    assert took < FAST
    assert error.setting == "FLOWDECK_DOCUMENT_MAX_EXPANDED_BYTES"
    assert "more than 2097152 bytes of text once its aliases are expanded" in str(error)


def test_aliases_within_the_limits_expand_and_are_counted_as_what_they_repeat() -> None:
    text = "a: &a [1, 2, 3]\nb: *a\nc: &c {x: 1, <<: {y: 2}}\nd: {<<: *c, z: 3}\n"
    assert load_yaml(text) == {
        "a": [1, 2, 3],
        "b": [1, 2, 3],
        "c": {"x": 1, "y": 2},
        "d": {"x": 1, "y": 2, "z": 3},
    }
    # a: 1 key + 4 (list and items); b: 1 + 4 again through the alias = 10, plus the root.
    small = "a: &a [1, 2, 3]\nb: *a\n"
    assert load_yaml(small, DocumentLimits(max_nodes=11)) == {"a": [1, 2, 3], "b": [1, 2, 3]}
    with pytest.raises(DocumentTooComplexError) as caught:
        load_yaml(small, DocumentLimits(max_nodes=10))
    assert caught.value.line == 2  # at the alias
    # Text: a, 1, 2, 3, b, then 1, 2, 3 again = 8 bytes.
    load_yaml(small, DocumentLimits(max_expanded_bytes=8))
    with pytest.raises(DocumentTooComplexError):
        load_yaml(small, DocumentLimits(max_expanded_bytes=7))


def test_an_alias_inside_its_own_node_is_refused_not_followed() -> None:
    for text in ("&a [*a]", "a: &a {x: *a}", "a: &a {<<: *a}"):
        with pytest.raises(MalformedDocumentError, match="inside the node it names") as caught:
            load_yaml(text)
        assert caught.value.line == 1


# --- depth ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("flow", "[" * 100_000 + "]" * 100_000, 1),
        ("flow mappings", "a: " + "{b: " * 100_000, 1),
        ("block mappings", nested_block(1000), 64),
        ("block sequences", "- " * 100_000 + "x", 1),
    ],
)
def test_deep_yaml_is_refused_naming_the_depth_limit(name: str, text: str, line: int) -> None:
    error, took = refusal(load_yaml, text)
    assert took < FAST, name
    assert error.setting == "FLOWDECK_DOCUMENT_MAX_DEPTH" and error.limit == 64
    assert str(error) == (
        "The document is nested more than 64 levels deep (FLOWDECK_DOCUMENT_MAX_DEPTH) "
        f"at line {line}."
    )


@pytest.mark.parametrize("levels", [100, 100_000])  # the walk's count, and json.loads' recursion
def test_deep_json_is_refused_naming_the_depth_limit(levels: int) -> None:
    error, took = refusal(load_json, "[" * levels + "]" * levels)
    assert took < FAST
    assert error.setting == "FLOWDECK_DOCUMENT_MAX_DEPTH"
    assert str(error) == (
        "The document is nested more than 64 levels deep (FLOWDECK_DOCUMENT_MAX_DEPTH)."
    )


def test_depth_is_counted_alike_in_yaml_and_json_and_64_levels_are_allowed() -> None:
    deepest = "[" * 63 + "{}" + "]" * 63  # 64 levels: 63 lists and a mapping
    assert load_yaml(deepest) == load_json(deepest)
    assert load_yaml(nested_block(64))  # 63 mappings and the scalar at the bottom
    for text in ("[" + deepest + "]", nested_block(65)):
        with pytest.raises(DocumentTooComplexError, match="64 levels"):
            load_yaml(text)
    with pytest.raises(DocumentTooComplexError, match="64 levels"):
        load_json("[" + deepest + "]")


# --- size ----------------------------------------------------------------------------------


def test_a_1_mb_document_of_small_nodes_within_the_limits_loads() -> None:
    items = {f"key_{n:05d}": f"value {n:05d} " + "v" * 30 for n in range(17_500)}
    text = json.dumps(items)
    assert 1_000_000 < len(text) < 1024 * 1024
    assert load_json(text) == items
    started = time.perf_counter()
    assert load_yaml(text) == items  # JSON is YAML: 35,001 nodes, ~1 MB of text
    assert time.perf_counter() - started < 30  # pure-Python YAML: seconds, not minutes


def test_a_1_mb_json_list_of_tiny_values_is_refused_by_the_node_limit() -> None:
    text = json.dumps([0] * 350_000)
    assert len(text) > 1_000_000
    error, took = refusal(load_json, text)
    assert took < FAST
    assert error.setting == "FLOWDECK_DOCUMENT_MAX_NODES"
    assert str(error) == "The document has more than 100000 nodes (FLOWDECK_DOCUMENT_MAX_NODES)."


def test_yaml_of_many_small_nodes_is_refused_at_the_line_where_the_count_passed() -> None:
    text = "".join(f"- {n}\n" for n in range(1, 200))
    error, _ = refusal(load_yaml, text, DocumentLimits(max_nodes=100))
    assert error.line == 100  # the root list, then one node a line


def test_json_keys_count_as_nodes_and_as_text() -> None:
    tally = Tally(DEFAULT_LIMITS, subject="The document", expanded=False)
    count({"ab": [1, "cd"], "é": None}, tally)
    assert (tally.nodes, tally.bytes) == (7, 2 + 2 + 2)  # "é" is two bytes of UTF-8


# --- malformed text ----------------------------------------------------------------------


def test_malformed_text_says_where() -> None:
    with pytest.raises(MalformedDocumentError) as yaml_error:
        load_yaml("steps:\n  - id: a\n   type: [\n")
    assert (yaml_error.value.line, yaml_error.value.column) == (3, 4)
    assert str(yaml_error.value).startswith("Not valid YAML: ")
    with pytest.raises(MalformedDocumentError) as json_error:
        load_json('{"a":\n  }')
    assert str(json_error.value) == "Not valid JSON: Expecting value at line 2, column 3."
    with pytest.raises(MalformedDocumentError) as control:
        load_yaml("a: 1\nb: \x00\n")
    assert (control.value.line, control.value.column) == (2, 4)
    with pytest.raises(MalformedDocumentError, match="not UTF-8"):
        load_json(b'{"a": "\xff"}')
    with pytest.raises(MalformedDocumentError, match="digits"):
        load_json("1" * 5000)  # Python refuses to convert it: an error, not a crash


def test_the_tree_and_the_data_come_from_one_parse() -> None:
    root, data = load_yaml_tree("a:\n  b: [1, 2]\n")
    assert data == {"a": {"b": [1, 2]}}
    assert root is not None and root.value[0][1].value[0][1].start_mark.line == 1
    assert load_yaml_tree("") == (None, None)


# --- the callers ---------------------------------------------------------------------------


def test_settings_default_to_the_parsers_limits_and_can_change_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert DocumentLimits.of(Settings()) == DEFAULT_LIMITS
    monkeypatch.setenv("FLOWDECK_DOCUMENT_MAX_NODES", "50")
    monkeypatch.setenv("FLOWDECK_DOCUMENT_MAX_DEPTH", "8")
    monkeypatch.setenv("FLOWDECK_DOCUMENT_MAX_EXPANDED_BYTES", "4096")
    assert DocumentLimits.of(Settings()) == DocumentLimits(50, 8, 4096)


def test_parse_text_names_the_limit_for_yaml_and_json() -> None:
    with pytest.raises(DocumentTooComplexError, match="FLOWDECK_DOCUMENT_MAX_NODES"):
        parse_text(alias_bomb())
    with pytest.raises(DocumentTooComplexError, match="FLOWDECK_DOCUMENT_MAX_DEPTH"):
        parse_text("[" * 5000 + "]" * 5000, json_only=True)
    with pytest.raises(MalformedDocumentError, match=r"Not valid as JSON: when: date"):
        parse_text("when: 2024-01-01\n")


def test_every_built_in_template_loads_with_room_under_the_depth_limit() -> None:
    templates = load_builtin_templates()
    assert templates
    folder = resources.files("flowdeck.catalog").joinpath("builtin")
    quarter = DocumentLimits(max_depth=DEFAULT_LIMITS.max_depth // 4)
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            assert load_yaml(entry.read_text(encoding="utf-8"), quarter)


def test_every_example_in_the_docs_fits_well_under_the_depth_limit() -> None:
    quarter = DocumentLimits(max_depth=DEFAULT_LIMITS.max_depth // 4)
    examples = 0
    for page in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]:
        for example in re.findall(r"```yaml\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
            load_yaml(example, quarter)
            examples += 1
    assert examples >= 15


def test_a_template_file_is_bounded_and_still_refuses_a_key_given_twice() -> None:
    with pytest.raises(CatalogError) as bomb:
        load_template_text(alias_bomb(), "bomb.yaml")
    assert bomb.value.problems == [
        "bomb.yaml: line 6: The document has more than 100000 nodes once its aliases are "
        "expanded (FLOWDECK_DOCUMENT_MAX_NODES)"
    ]
    with pytest.raises(CatalogError, match="line 2, column 1: duplicate key 'id'"):
        load_template_text("id: a\nid: b\n", "twice.yaml")


def test_the_editor_shows_a_limit_as_one_issue_at_its_line() -> None:
    definition, issues = check_definition_text("steps: []\n" + alias_bomb())
    assert definition is None
    assert issues == [
        LineIssue(
            7,
            "",
            "The document has more than 100000 nodes once its aliases are expanded "
            "(FLOWDECK_DOCUMENT_MAX_NODES)",
        )
    ]
    _, deep = check_definition_text("steps: " + "[" * 100 + "]" * 100, DocumentLimits(max_depth=8))
    assert [(i.line, i.message) for i in deep] == [
        (1, "The document is nested more than 8 levels deep (FLOWDECK_DOCUMENT_MAX_DEPTH)")
    ]


def test_a_json_box_of_the_run_form_is_held_to_the_limits() -> None:
    form = FormData({"input.payload": "[" * 5000 + "]" * 5000})
    with pytest.raises(DefinitionError) as caught:
        read({"payload": {"type": "array"}}, form)
    assert [str(issue) for issue in caught.value.issues] == [
        "inputs.payload: The value is nested more than 64 levels deep (FLOWDECK_DOCUMENT_MAX_DEPTH)"
    ]


def test_text_given_for_an_object_input_is_held_to_the_limits() -> None:
    declared = {"payload": InputSpec(type="object")}
    with pytest.raises(DefinitionError, match="nested more than 64 levels") as caught:
        coerce_inputs(declared, {"payload": '{"a": ' + "[" * 5000 + "]" * 5000 + "}"})
    assert caught.value.issues[0].path == "inputs.payload"
    assert coerce_inputs(declared, {"payload": '{"a": [1]}'}) == {"payload": {"a": [1]}}


def test_a_definition_given_as_text_is_held_to_the_limits() -> None:
    with pytest.raises(DefinitionError) as caught:
        validate_definition(alias_bomb())
    assert [str(issue) for issue in caught.value.issues] == [
        "The document has more than 100000 nodes once its aliases are expanded "
        "(FLOWDECK_DOCUMENT_MAX_NODES) (line 6)"
    ]


def test_a_forged_cursor_nested_deep_is_an_invalid_cursor_not_a_crash() -> None:
    deep = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode().rstrip("=")
    with pytest.raises(BadRequest) as caught:
        decode_cursor(deep, str, str)
    refused = answer(caught.value)
    assert (refused.status, refused.code) == (400, "invalid_cursor")

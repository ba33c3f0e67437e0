"""The built-in template catalog: every file loads and validates, and a broken file is
reported with its name and where in it the problem is."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from flowdeck.catalog.loader import (
    BuiltinTemplate,
    CatalogError,
    load_builtin_templates,
    load_template_text,
    load_templates_from,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "templates.md"

TINY = """\
id: tiny
name: Tiny
category: testing
goal: Say hello.
inputs:
  who: {type: string, default: world, description: Whom to greet}
steps:
  - id: hello
    type: log
    with: {message: "hello {{ inputs.who }}", level: info}
outputs:
  greeted: "{{ inputs.who }}"
"""


@pytest.fixture(scope="module")
def catalog() -> list[BuiltinTemplate]:
    return load_builtin_templates()


def test_every_builtin_template_loads_and_validates(catalog: list[BuiltinTemplate]) -> None:
    # load_builtin_templates raises on the first broken file; reaching here means every
    # file passed the catalog checks and the engine's validator.
    assert catalog
    for template in catalog:
        assert template.goal and template.steps, template.source
        assert set(template.definition()) == {"goal", "inputs", "conditions", "steps", "outputs"}


def test_the_catalog_is_broad_enough_to_browse(catalog: list[BuiltinTemplate]) -> None:
    assert len(catalog) >= 12
    assert len({template.category for template in catalog}) >= 5


def test_ids_are_unique_sorted_and_match_file_names(catalog: list[BuiltinTemplate]) -> None:
    ids = [template.id for template in catalog]
    assert ids == sorted(set(ids))
    folder = resources.files("flowdeck.catalog").joinpath("builtin")
    files = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".yaml"))
    assert [f"{template_id}.yaml" for template_id in ids] == files
    assert all(template.source == f"{template.id}.yaml" for template in catalog)


def test_every_input_is_described_and_its_default_fits_its_type(
    catalog: list[BuiltinTemplate],
) -> None:
    python_types: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
        "object": dict,
        "array": list,
    }
    for template in catalog:
        for name, spec in template.inputs.items():
            where = f"{template.source}: inputs.{name}"
            assert spec["description"].strip(), where
            if "default" in spec:
                assert isinstance(spec["default"], python_types[spec["type"]]), where
                if spec["type"] in ("integer", "number"):
                    assert not isinstance(spec["default"], bool), where
            if "enum" in spec and "default" in spec:
                assert spec["default"] in spec["enum"], where


def test_the_user_documentation_has_a_section_per_template(
    catalog: list[BuiltinTemplate],
) -> None:
    headings = re.findall(r"^### .*`([a-z0-9-]+)`", DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted(headings) == [template.id for template in catalog]


def test_a_minimal_template_loads() -> None:
    template = load_template_text(TINY, "tiny.yaml")
    assert (template.id, template.name, template.category) == ("tiny", "Tiny", "testing")
    assert template.conditions == []
    assert template.definition()["outputs"] == {"greeted": "{{ inputs.who }}"}


def test_a_yaml_syntax_error_names_the_file_line_and_column() -> None:
    text = TINY.replace("name: Tiny", "name: [Tiny")
    with pytest.raises(CatalogError, match=r"^broken\.yaml: line \d+, column \d+: ") as caught:
        load_template_text(text, "broken.yaml")
    where = re.search(r"line (\d+)", str(caught.value))
    assert where is not None
    assert 2 <= int(where.group(1)) <= 4  # near the unclosed list, not at the end of the file


def test_a_key_given_twice_is_an_error_with_its_line() -> None:
    text = TINY.replace("category: testing\n", "category: testing\ncategory: other\n")
    with pytest.raises(
        CatalogError, match=r"dup\.yaml: line 4, column 1: duplicate key 'category'"
    ):
        load_template_text(text, "dup.yaml")


def test_an_unknown_top_level_key_is_reported_with_its_path() -> None:
    text = TINY + "trigger: daily\n"
    with pytest.raises(CatalogError, match=r"^extra\.yaml: trigger: unknown key"):
        load_template_text(text, "extra.yaml")


def test_missing_keys_are_all_reported_at_once() -> None:
    text = "id: tiny\nname: Tiny\n"
    with pytest.raises(CatalogError) as caught:
        load_template_text(text, "short.yaml")
    assert caught.value.problems == [
        "short.yaml: category: is required",
        "short.yaml: goal: is required",
        "short.yaml: steps: is required",
    ]


@pytest.mark.parametrize(
    ("bad_id", "complaint"),
    [
        ("Website_Check", "is not a slug"),
        ("two--hyphens", "is not a slug"),
        ("-leading", "is not a slug"),
        ("a" * 256, "at most 255"),
        ("", "must be non-empty text"),
    ],
)
def test_a_bad_id_is_reported_with_its_path(bad_id: str, complaint: str) -> None:
    text = TINY.replace("id: tiny", f"id: '{bad_id}'")
    with pytest.raises(CatalogError, match=rf"^bad\.yaml: id: .*{complaint}"):
        load_template_text(text, "bad.yaml")


def test_a_too_long_category_and_a_blank_goal_are_reported() -> None:
    text = TINY.replace("category: testing", f"category: {'x' * 101}").replace(
        "goal: Say hello.", "goal: ' '"
    )
    with pytest.raises(CatalogError) as caught:
        load_template_text(text, "limits.yaml")
    assert "limits.yaml: category: is 101 characters long; at most 100 are allowed" in (
        caught.value.problems
    )
    assert "limits.yaml: goal: must be non-empty text" in caught.value.problems


def test_values_json_cannot_hold_are_reported_with_their_path() -> None:
    text = TINY.replace("default: world", "default: 2024-01-31")
    with pytest.raises(
        CatalogError, match=r"dates\.yaml: inputs\.who\.default: date is not a JSON"
    ):
        load_template_text(text, "dates.yaml")


def test_an_undescribed_or_shadowing_input_is_reported() -> None:
    text = TINY.replace(
        "  who: {type: string, default: world, description: Whom to greet}",
        "  who: {type: string, default: world}\n  items: {type: array, description: Things}",
    )
    with pytest.raises(CatalogError) as caught:
        load_template_text(text, "inputs.yaml")
    assert caught.value.problems == [
        "inputs.yaml: inputs.who.description: a built-in template describes every input",
        "inputs.yaml: inputs.items: inputs.items would mean the mapping method items() in an "
        "expression; choose another name",
    ]


def test_an_invalid_step_is_reported_with_the_file_and_its_path() -> None:
    text = TINY.replace(
        "outputs:",
        "  - id: second\n    type: teleport\n    with: {to: mars}\noutputs:",
    )
    with pytest.raises(
        CatalogError, match=r"^step\.yaml: steps\[1\]\.type: unknown step type 'teleport'"
    ):
        load_template_text(text, "step.yaml")


def test_every_problem_of_the_definition_is_listed_with_its_nested_path() -> None:
    text = TINY.replace(
        "outputs:",
        "  - id: each\n"
        "    type: foreach\n"
        "    items: [1, 2]\n"
        "    steps:\n"
        "      - {id: get, type: http, with: {url: ftp://example.com/file}}\n"
        "      - {id: hello, type: log, with: {message: again}}\n"
        "outputs:",
    )
    with pytest.raises(CatalogError) as caught:
        load_template_text(text, "nested.yaml")
    problems = caught.value.problems
    assert len(problems) == 2, problems
    assert problems[0].startswith("nested.yaml: steps[1].steps[0].with.url: ")
    assert "ftp://example.com/file" in problems[0]
    assert problems[1].startswith("nested.yaml: steps[1].steps[1].id: duplicate step id 'hello'")


def test_catalog_and_definition_problems_are_reported_together() -> None:
    text = TINY.replace("id: tiny", "id: Tiny").replace("type: log", "type: logg")
    with pytest.raises(CatalogError) as caught:
        load_template_text(text, "both.yaml")
    problems = caught.value.problems
    assert len(problems) == 2, problems
    assert problems[0].startswith("both.yaml: id: 'Tiny' is not a slug")
    assert problems[1].startswith("both.yaml: steps[0].type: unknown step type 'logg'")


def test_a_reference_to_a_later_step_or_an_undeclared_input_is_reported() -> None:
    text = TINY.replace(
        'with: {message: "hello {{ inputs.who }}", level: info}',
        'with: {message: "{{ steps.bye.output }} {{ inputs.whom }}", level: info}\n'
        "  - {id: bye, type: log, with: {message: bye}}",
    )
    with pytest.raises(CatalogError) as caught:
        load_template_text(text, "order.yaml")
    problems = caught.value.problems
    assert any(
        problem.startswith("order.yaml: steps[0].with.message: step 'bye'") for problem in problems
    ), problems
    assert any(
        problem.startswith("order.yaml: steps[0].with.message: inputs.whom is not a declared")
        for problem in problems
    ), problems


def test_a_folder_reports_every_broken_file_and_ids_that_differ_from_names(
    tmp_path: Path,
) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY, encoding="utf-8")
    (tmp_path / "renamed.yaml").write_text(TINY, encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("id: [", encoding="utf-8")
    (tmp_path / "old.yml").write_text(TINY, encoding="utf-8")
    (tmp_path / "README.txt").write_text("not a template", encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_templates_from(tmp_path)
    problems = caught.value.problems
    assert len(problems) == 3, problems
    assert problems[0].startswith("broken.yaml: line 1, column ")
    assert problems[1] == "old.yml: name template files <id>.yaml, not .yml"
    assert problems[2] == "renamed.yaml: id: 'tiny' must equal the file name, 'renamed'"


def test_a_folder_of_good_files_loads_sorted_by_id(tmp_path: Path) -> None:
    for name in ("zeta", "alpha"):
        (tmp_path / f"{name}.yaml").write_text(TINY.replace("id: tiny", f"id: {name}"), "utf-8")
    assert [template.id for template in load_templates_from(tmp_path)] == ["alpha", "zeta"]

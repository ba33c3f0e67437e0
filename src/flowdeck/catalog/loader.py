"""The built-in template catalog: YAML files under `catalog/builtin`, one template each.

A template file holds the catalog columns of `workflow_templates` (id, name,
category, goal) and the definition a workflow made from it starts with (inputs,
conditions, steps, outputs). Loading one checks, in order:

1. the YAML itself (a syntax error or a duplicate key names the line and column);
2. the catalog fields: only known top-level keys, slug ids and categories, the
   column length limits, text where text is expected, JSON-compatible values, and
   a description for every declared input (the run form shows it);
3. the definition, with the engine's own static validator, so that a built-in
   template can never be something the engine would refuse to save or run.

Every problem is reported as `file: path: message`, all of them at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import yaml

from flowdeck.definition.issues import join_path, json_problems
from flowdeck.documents import BoundedSafeLoader, DocumentError, load_yaml
from flowdeck.errors import FlowdeckError

__all__ = [
    "BuiltinTemplate",
    "CatalogError",
    "load_builtin_templates",
    "load_template_text",
    "load_templates_from",
]

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
ID_MAX = 255  # workflow_templates.id VARCHAR(255)
NAME_MAX = 255  # workflow_templates.name VARCHAR(255)
CATEGORY_MAX = 100  # workflow_templates.category VARCHAR(100)

REQUIRED_KEYS = ("id", "name", "category", "goal", "steps")
OPTIONAL_KEYS = ("inputs", "conditions", "outputs")
KNOWN_KEYS = frozenset(REQUIRED_KEYS + OPTIONAL_KEYS)
# The keys of the file that make the definition a workflow made from it starts with.
DEFINITION_KEYS = ("goal", "inputs", "conditions", "steps", "outputs")

INPUT_TYPES = frozenset({"string", "integer", "number", "boolean", "object", "array"})
INPUT_KEYS = frozenset({"type", "description", "default", "required", "enum"})
INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# `inputs.items` in an expression is the mapping's items() method, not the input: Jinja
# looks attributes up before keys. Such names are refused rather than left as a trap.
SHADOWED_NAMES = frozenset(name for name in dir(dict) if not name.startswith("_"))


class CatalogError(FlowdeckError):
    """A template file is not a valid built-in template.

    The message has one line per problem, each `file: path: message` (or
    `file: line L, column C: message` for YAML syntax); `problems` holds the lines.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class BuiltinTemplate:
    """One built-in template, as read from its file."""

    id: str
    name: str
    category: str
    goal: str
    inputs: dict[str, Any]
    conditions: list[str]
    steps: list[Any]
    outputs: dict[str, Any]
    source: str  # the file name, for messages

    def definition(self) -> dict[str, Any]:
        """The definition document a workflow made from this template starts with."""
        return {key: getattr(self, key) for key in DEFINITION_KEYS}


class _StrictLoader(BoundedSafeLoader):
    """The bounded safe loader (default limits), refusing a key given twice in one mapping.

    PyYAML keeps the last value silently, which would hide a typo in a template.
    """


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    # Checked before merge keys (`<<: *base`) are flattened: overriding a merged key is
    # what merging is for, giving the same key twice by hand is a mistake.
    seen: set[object] = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
            continue
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    loader.flatten_mapping(node)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parse_yaml(text: str, source: str) -> object:
    try:
        return load_yaml(text, loader=_StrictLoader)
    except DocumentError as error:
        where = f"{error.position()}: " if error.line is not None else ""
        raise CatalogError([f"{source}: {where}{error.problem}"]) from None


def _text(
    document: dict[str, Any], key: str, limit: int | None, slug: bool
) -> Iterable[tuple[str, str]]:
    value = document.get(key)
    if not isinstance(value, str) or not value.strip():
        yield key, "must be non-empty text"
        return
    if limit is not None and len(value) > limit:
        yield key, f"is {len(value)} characters long; at most {limit} are allowed"
    if slug and not SLUG.fullmatch(value):
        rule = "use lower-case letters and digits in words joined by single hyphens"
        yield key, f"{value!r} is not a slug: {rule}, like 'website-uptime-check'"


def _input_problems(inputs: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for name, spec in inputs.items():
        if not isinstance(name, str):
            continue  # reported as a key that is not text
        path = join_path("inputs", name)
        if not INPUT_NAME.fullmatch(name):
            yield path, "an input name is a word of letters, digits and _ (inputs.<name>)"
        elif name in SHADOWED_NAMES:
            method = f"the mapping method {name}()"
            yield path, f"inputs.{name} would mean {method} in an expression; choose another name"
        if not isinstance(spec, dict):
            yield path, "must be a mapping with type and description"
            continue
        for key in sorted(set(spec) - INPUT_KEYS):
            yield join_path(path, key), f"unknown key; allowed: {', '.join(sorted(INPUT_KEYS))}"
        if spec.get("type") not in INPUT_TYPES:
            yield join_path(path, "type"), f"must be one of {', '.join(sorted(INPUT_TYPES))}"
        description = spec.get("description")
        if not isinstance(description, str) or not description.strip():
            yield join_path(path, "description"), "a built-in template describes every input"


def _catalog_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for key in sorted(set(document) - KNOWN_KEYS, key=str):
        allowed = ", ".join(REQUIRED_KEYS + OPTIONAL_KEYS)
        problems.append((join_path("", str(key)), f"unknown key; a template has {allowed}"))
    for key in REQUIRED_KEYS:
        if key not in document:
            problems.append((key, "is required"))
    problems.extend(json_problems({k: v for k, v in document.items() if k in KNOWN_KEYS}, ""))
    if "id" in document:
        problems.extend(_text(document, "id", ID_MAX, slug=True))
    if "name" in document:
        problems.extend(_text(document, "name", NAME_MAX, slug=False))
    if "category" in document:
        problems.extend(_text(document, "category", CATEGORY_MAX, slug=True))
    if "goal" in document:
        problems.extend(_text(document, "goal", None, slug=False))
    shapes = {"inputs": dict, "conditions": list, "steps": list, "outputs": dict}
    for key, shape in shapes.items():
        if key in document and not isinstance(document[key], shape):
            kind = "a mapping" if shape is dict else "a list"
            problems.append((key, f"must be {kind}"))
    if isinstance(document.get("inputs"), dict):
        problems.extend(_input_problems(document["inputs"]))
    return problems


def load_template_text(text: str, source: str) -> BuiltinTemplate:
    """Parse and check one template file's text; `source` names the file in messages.

    Raises CatalogError listing every problem found: the catalog's own checks first,
    then the definition validator's (except where the catalog already reported a path).
    """
    document = _parse_yaml(text, source)
    if not isinstance(document, dict):
        raise CatalogError([f"{source}: a template file must be a mapping of keys at the top"])
    problems = _catalog_problems(document)
    reported = {path for path, _ in problems}
    problems.extend(
        (path, message) for path, message in _definition_problems(document) if path not in reported
    )
    if problems:
        raise CatalogError(f"{source}: {path}: {message}" for path, message in problems)
    return BuiltinTemplate(
        id=document["id"],
        name=document["name"].strip(),
        category=document["category"],
        goal=document["goal"].strip(),
        inputs=document.get("inputs") or {},
        conditions=document.get("conditions") or [],
        steps=document["steps"],
        outputs=document.get("outputs") or {},
        source=source,
    )


def _definition_problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    """What the engine's validator finds in the definition part of the file."""
    # Imported here: the catalog's files can be read (and their YAML checked) by code
    # that does not need the engine.
    from flowdeck.definition.document import DefinitionError, validate_definition

    definition = {key: document[key] for key in DEFINITION_KEYS if key in document}
    if isinstance(definition.get("goal"), str):
        definition["goal"] = definition["goal"].strip()
    try:
        validate_definition(definition)
    except DefinitionError as error:
        return [(issue.path, issue.message) for issue in error.issues]
    return []


def load_builtin_templates() -> list[BuiltinTemplate]:
    """Every built-in template (the package's `catalog/builtin/*.yaml`), sorted by id."""
    return load_templates_from(resources.files("flowdeck.catalog").joinpath("builtin"))


def load_templates_from(folder: Traversable) -> list[BuiltinTemplate]:
    """Every `*.yaml` template in `folder`, sorted by id.

    Each file must be valid, and its id must equal its file name (without `.yaml`),
    which keeps ids unique; CatalogError lists the problems of every file at once.
    """
    templates: list[BuiltinTemplate] = []
    problems: list[str] = []
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if entry.name.endswith(".yml"):
            problems.append(f"{entry.name}: name template files <id>.yaml, not .yml")
            continue
        if not entry.name.endswith(".yaml"):
            continue
        try:
            template = load_template_text(entry.read_text(encoding="utf-8"), entry.name)
        except CatalogError as error:
            problems.extend(error.problems)
            continue
        stem = entry.name.removesuffix(".yaml")
        if template.id != stem:
            problems.append(f"{entry.name}: id: {template.id!r} must equal the file name, {stem!r}")
            continue
        templates.append(template)
    if problems:
        raise CatalogError(problems)
    return sorted(templates, key=lambda template: template.id)

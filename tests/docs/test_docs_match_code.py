"""The docs say what the code does: every example definition validates (or is marked as a
bad one, with what it must produce), every `flowdeck` command and option shown exists,
every API route shown exists with that method, every FLOWDECK_ variable named is read by
Flowdeck, and the numbers the code knows are the code's. A failure names the page and line
to fix."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from typer._click.exceptions import (  # the click Typer builds its commands with
    BadParameter,
    MissingParameter,
    NoArgsIsHelpError,
    UsageError,
)

from flowdeck.api.app import create_app
from flowdeck.catalog.loader import load_builtin_templates
from flowdeck.cli import app as cli_app
from flowdeck.config import Settings
from flowdeck.db.migrate import load_migrations
from flowdeck.definition.document import DefinitionError, coerce_inputs, validate_definition
from flowdeck.definition.steps_schema import STEP_TYPES
from tests.docs.markdown import Block, blocks

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
SRC = ROOT / "src" / "flowdeck"

DEFINITION_KEYS = {"goal", "inputs", "conditions", "steps", "outputs", "timeout"}
# Written before a fenced block: `<!-- check: fragment -->` (a part of a definition that
# does not stand alone), `<!-- check: invalid "text the errors must contain" -->`.
MARKER = re.compile(r"<!--\s*check:\s*(fragment|invalid)(?:\s+\"([^\"]*)\")?\s*-->")


def marker(block: Block) -> tuple[str, str] | None:
    """(kind, expected text) of a check comment on the line before the block's fence."""
    lines = block.path.read_text(encoding="utf-8").splitlines()
    before = lines[block.line - 3] if block.line >= 3 else ""  # `line` is after the fence
    found = MARKER.search(before)
    return (found.group(1), found.group(2) or "") if found else None


def _definition_blocks() -> list[Block]:
    found = []
    for page in PAGES:
        for _, block in blocks(page):
            if block.language not in ("yaml", "json"):
                continue
            try:
                data = yaml.safe_load(block.text)
            except yaml.YAMLError:
                continue  # not a document (a fragment with `...`): other checks cover it
            if isinstance(data, dict) and data and set(data) <= DEFINITION_KEYS:
                found.append(block)
    return found


@pytest.mark.parametrize("block", _definition_blocks(), ids=lambda block: block.where())
def test_every_example_definition_validates(block: Block) -> None:
    data = yaml.safe_load(block.text)
    kind, expected = marker(block) or ("", "")
    if kind == "fragment":
        return
    try:
        validate_definition(data)
    except DefinitionError as exc:
        if kind == "invalid":
            assert expected in str(exc), (
                f"{block.where()}: the errors do not say {expected!r}: {exc}"
            )
            return
        raise AssertionError(f"{block.where()}: the example does not validate: {exc}") from None
    assert kind != "invalid", f"{block.where()}: marked invalid, but it validates"


# --- commands ------------------------------------------------------------------------------

COMMAND = re.compile(r"(?:^\$ |`)(flowdeck(?: [^`\n|]*)?)")


def _commands() -> list[tuple[str, str]]:
    """(page:line, command text) of every `flowdeck ...` in code spans and console lines."""
    found = []
    for page in PAGES:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            for match in COMMAND.finditer(line):
                text = match.group(1).strip().rstrip("`")
                if text != "flowdeck":
                    found.append((f"{page.relative_to(ROOT)}:{number}", text))
    return found


def _resolve(words: list[str]) -> tuple[Any, list[str]]:
    """The (click) command the words name, as Typer builds it, and the words after it."""
    command: Any = typer.main.get_command(cli_app)
    rest = list(words)
    # Descend while the next word looks like a command name: `COMMAND`, `WORKFLOW`, `...`
    # and the like are placeholders, and what follows them are arguments.
    while rest and hasattr(command, "commands") and re.fullmatch(r"[a-z][a-z-]*", rest[0]):
        sub = command.commands.get(rest[0])
        if sub is None:
            raise LookupError(f"no command {rest[0]!r} under {command.name!r}")
        command, rest = sub, rest[1:]
    return command, rest


def test_every_command_and_option_shown_exists() -> None:
    problems = []
    for where, text in _commands():
        words = text.split()[1:]
        try:
            command, rest = _resolve(words)
        except LookupError as exc:
            problems.append(f"{where}: `{text}`: {exc}")
            continue
        options = {name for param in command.params for name in param.opts + param.secondary_opts}
        options |= {"--help"}
        for word in rest:
            option = word.strip("[]().,;").split("=")[0]
            if option.startswith("--") and option not in options:
                problems.append(f"{where}: `{text}`: {command.name} has no option {option}")
    assert not problems, "\n".join(problems)


# --- routes --------------------------------------------------------------------------------

ROUTE = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/[A-Za-z0-9_{}./:%-]*)")


def _matches(shown: str, declared: str) -> bool:
    shown_parts, declared_parts = shown.strip("/").split("/"), declared.strip("/").split("/")
    if len(shown_parts) != len(declared_parts):
        return False
    return all(
        a == b or b.startswith("{") or a.startswith("{")
        for a, b in zip(shown_parts, declared_parts, strict=True)
    )


def _routes(routes: Any) -> Iterator[Any]:
    """Every route, also inside the routers FastAPI includes (it keeps them as they are)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _routes(included.routes) if included is not None else (route,)


def test_every_route_shown_exists_with_its_method() -> None:
    # The app's routes: the API's (what /api/openapi.json lists), the pages and the hooks.
    app = create_app(Settings(database_url="postgresql://unused"))
    declared = {
        (method, getattr(route, "path", ""))
        for route in _routes(app.routes)
        for method in getattr(route, "methods", None) or ()
    }
    problems = []
    for page in PAGES:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            for method, path in ROUTE.findall(line):
                path = path.split("?")[0].rstrip(".,:")
                if not any(m == method and _matches(path, p) for m, p in declared):
                    problems.append(f"{page.relative_to(ROOT)}:{number}: no route {method} {path}")
    assert not problems, "\n".join(problems)


# --- settings ------------------------------------------------------------------------------

VARIABLE = re.compile(r"\bFLOWDECK_[A-Z0-9_]*[A-Z0-9]\b")


def test_every_variable_named_is_read_by_flowdeck() -> None:
    settings = {f"FLOWDECK_{name.upper()}" for name in Settings.model_fields}
    code = "\n".join(path.read_text(encoding="utf-8") for path in SRC.rglob("*.py"))
    tests = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "tests").rglob("*.py"))
    problems = []
    for page in PAGES:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            for name in VARIABLE.findall(line):
                # A setting, a variable the client or the CLI reads, or one the tests read.
                if name not in settings and f'"{name}"' not in code and f'"{name}"' not in tests:
                    problems.append(f"{page.relative_to(ROOT)}:{number}: {name} is read nowhere")
    assert not problems, "\n".join(problems)


# --- numbers the code knows ----------------------------------------------------------------


def _numbers(pattern: str) -> list[tuple[str, int]]:
    found = []
    for page in PAGES:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            for value in re.findall(pattern, line):
                found.append((f"{page.relative_to(ROOT)}:{number}", int(value)))
    return found


def test_counts_in_the_docs_are_the_code_s() -> None:
    templates = load_builtin_templates()
    counts = {
        r"\b(\d+) built-in templates": len(templates),
        r"\b(\d+) categories": len({template.category for template in templates}),
        r"\"migrations\":(\d+)": len(load_migrations()),
    }
    problems = [
        f"{where}: says {value}, the code has {expected}"
        for pattern, expected in counts.items()
        for where, value in _numbers(pattern)
        if value != expected
    ]
    assert not problems, "\n".join(problems)


# --- the catalog's pages -------------------------------------------------------------------

TEMPLATE_HEADING = re.compile(r"^#+ .* — `([a-z0-9-]+)`\s*$")


def _template_examples() -> list[tuple[Block, str]]:
    """(block, template id) of every JSON example under a template's heading."""
    page = ROOT / "docs" / "templates.md"
    lines = page.read_text(encoding="utf-8").splitlines()
    found = []
    for _, block in blocks(page):
        if block.language != "json":
            continue
        headings = [TEMPLATE_HEADING.match(line) for line in lines[: block.line - 1]]
        named = [match.group(1) for match in headings if match]
        if named:
            found.append((block, named[-1]))
    return found


def test_every_template_on_its_page_exists_and_its_example_inputs_fit() -> None:
    templates = {template.id: template for template in load_builtin_templates()}
    examples = _template_examples()
    assert {template_id for _, template_id in examples} == set(templates), (
        "docs/templates.md: every built-in template has a section with an example, and only those"
    )
    problems = []
    for block, template_id in examples:
        declared = validate_definition(templates[template_id].definition()).inputs
        try:
            coerce_inputs(declared, json.loads(block.text))
        except DefinitionError as exc:
            problems.append(f"{block.where()}: the example inputs of {template_id}: {exc}")
    assert not problems, "\n".join(problems)


# --- and the other way round: nothing the code has is missing from its page -----------------


def _page(name: str) -> str:
    return (ROOT / "docs" / name).read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    page = _page("cli.md")
    missing = [
        f"FLOWDECK_{name.upper()}"
        for name in Settings.model_fields
        if f"FLOWDECK_{name.upper()}" not in page
    ]
    assert not missing, f"docs/cli.md (Environment variables): add {', '.join(missing)}"


def _leaf_commands(command: Any, words: tuple[str, ...] = ()) -> Iterator[str]:
    children = getattr(command, "commands", None)
    if not children:
        yield " ".join(("flowdeck", *words))
        return
    for name, child in children.items():
        if not getattr(child, "hidden", False):
            yield from _leaf_commands(child, (*words, name))


def test_every_command_is_documented() -> None:
    page = _page("cli.md")
    missing = [
        text
        for text in _leaf_commands(typer.main.get_command(cli_app))
        if text not in page and f"{text.rsplit(' ', 1)[0]} ... {text.rsplit(' ', 1)[1]}" not in page
    ]
    assert not missing, f"docs/cli.md: add {', '.join(missing)}"


def test_every_api_route_is_documented() -> None:
    openapi = create_app(Settings(database_url="postgresql://unused")).openapi()
    shown = [
        (method, path.split("?")[0].rstrip(".,:"))
        for line in _page("api.md").splitlines()
        for method, path in ROUTE.findall(line)
    ]
    missing = [
        f"{method.upper()} {path}"
        for path, item in openapi["paths"].items()
        for method in item
        if not any(m == method.upper() and _matches(p, path) for m, p in shown)
    ]
    assert not missing, f"docs/api.md: add {', '.join(missing)}"


def test_every_step_type_has_its_section_with_an_example() -> None:
    page = ROOT / "docs" / "definition.md"
    text = page.read_text(encoding="utf-8")
    problems = []
    for step_type in STEP_TYPES:
        section = re.search(rf"^### {step_type}\n(.*?)(?=^##)", text, re.MULTILINE | re.DOTALL)
        if section is None:
            problems.append(f"docs/definition.md: no section '### {step_type}'")
        elif not re.search(rf"type: {step_type}\b", section.group(1)):
            problems.append(f"docs/definition.md, '### {step_type}': no example of the step")
    assert not problems, "\n".join(problems)


SHELL = {"|", "&&", "||", ";", "2>&1"}


def _console_commands() -> list[tuple[str, list[str]]]:
    """(page:line, arguments) of every `$ flowdeck ...` typed in a console block, with
    continuation lines joined, as a shell would split them."""
    found = []
    for page in PAGES:
        for _, block in blocks(page):
            if block.language != "console":
                continue
            lines = block.text.splitlines()
            for offset, line in enumerate(lines):
                if not line.startswith("$ flowdeck "):
                    continue
                typed, after = line[2:], offset + 1
                while typed.endswith("\\") and after < len(lines):
                    typed, after = typed[:-1] + lines[after], after + 1
                where = block.where(offset)
                words = shlex.split(typed)
                # What the shell takes for itself: redirections, pipes, `&&`.
                cut = [i for i, word in enumerate(words) if word in SHELL or word[:1] in "<>|"]
                found.append((where, words[1 : cut[0] if cut else len(words)]))
    return found


def test_every_command_typed_in_a_console_parses() -> None:
    """Typer's own parser takes what the transcripts show (a missing argument is fine:
    some lines show a prompt instead)."""
    problems = []
    for where, args in _console_commands():
        try:
            command, rest = _resolve(args)
            command.make_context(command.name, rest)
        except (MissingParameter, NoArgsIsHelpError):
            continue
        except (LookupError, UsageError, BadParameter) as exc:
            problems.append(f"{where}: flowdeck {' '.join(args)}: {exc}")
    assert not problems, "\n".join(problems)


def test_the_index_links_every_page() -> None:
    index = _page("README.md")
    missing = [
        page.name
        for page in sorted((ROOT / "docs").glob("*.md"))
        if page.name != "README.md" and f"({page.name}" not in index
    ]
    assert not missing, f"docs/README.md: link {', '.join(missing)}"

"""Definitions: every step type, and every problem reported at its JSON path, all at once."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowdeck.definition.document import (
    STEP_TYPES,
    Definition,
    DefinitionError,
    InputSpec,
    Issue,
    coerce_inputs,
    iter_steps,
    validate_definition,
)
from flowdeck.definition.steps_schema import BranchStep, HttpArgs, HttpStep

DESIGN_EXAMPLE = """
inputs:
  url: {type: string, description: Page to check}
  threshold_ms: {type: integer, default: 2000}
conditions:
  - "{{ inputs.url.startswith('https://') }}"
steps:
  - id: fetch
    type: http
    with: {method: GET, url: "{{ inputs.url }}", timeout: 10s}
    retry: {attempts: 3, backoff: 2s, max_backoff: 1m}
    timeout: 30s
  - id: report
    type: set
    when: "{{ steps.fetch.elapsed_ms > inputs.threshold_ms }}"
    with: {message: "slow: {{ steps.fetch.elapsed_ms }} ms"}
outputs:
  status: "{{ steps.fetch.output.status }}"
"""

LOG = {"type": "log", "with": {"message": "hello"}}

VALID_STEPS: dict[str, dict[str, Any]] = {
    "http": {
        "type": "http",
        "with": {
            "method": "post",
            "url": "{{ inputs.url }}",
            "headers": {"Authorization": "Bearer {{ secrets.token }}"},
            "query": {"page": 1},
            "json": {"name": "{{ inputs.name }}"},
            "timeout": "10s",
            "expect": [200, 201],
        },
        "idempotent": True,
        "retry": {"attempts": 5, "backoff": "500ms", "max_backoff": "1m"},
        "timeout": 30,
        "continue_on_error": True,
    },
    "set": {"type": "set", "with": {"total": "{{ inputs.items | length }}", "label": "fixed"}},
    "branch": {
        "type": "branch",
        "if": "{{ inputs.items | length > 0 }}",
        "then": [{"id": "yes", **LOG}],
        "else": [{"id": "no", **LOG}],
    },
    "foreach": {
        "type": "foreach",
        "items": "{{ inputs.items }}",
        "concurrency": 4,
        "steps": [
            {"id": "each", "type": "log", "with": {"message": "{{ loop.index }}: {{ item }}"}}
        ],
    },
    "parallel": {
        "type": "parallel",
        "branches": {"left": [{"id": "l", **LOG}], "right": [{"id": "r", **LOG}]},
    },
    "delay": {"type": "delay", "with": {"for": "10m"}},
    "wait": {"type": "wait", "with": {"signal": "approval", "timeout": "1d"}},
    "workflow": {"type": "workflow", "with": {"workflow": "daily-report", "inputs": {"day": 1}}},
    "log": {"type": "log", "with": {"message": "{{ inputs.name }}", "level": "warning"}},
    "fail": {"type": "fail", "with": {"message": "cannot go on"}},
    "email": {
        "type": "email",
        "with": {
            "to": ["ops@example.com"],
            "cc": "lead@example.com",
            "from": "flowdeck@example.com",
            "subject": "Report for {{ inputs.name }}",
            "text": "All good.",
            "smtp": {"host": "smtp.example.com", "port": 587, "security": "starttls"},
        },
    },
    "llm": {
        "type": "llm",
        "with": {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "{{ inputs.name }}"},
            ],
            "temperature": 0.2,
            "max_tokens": 200,
            "json": True,
        },
    },
}

INPUTS = {
    "url": {"type": "string"},
    "name": {"type": "string", "default": "world"},
    "items": {"type": "array", "default": []},
}


def definition(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A document with these steps (ids s0, s1... unless given) and the inputs above."""
    numbered = [{"id": f"s{index}", **step} for index, step in enumerate(steps)]
    return {"inputs": INPUTS, "steps": numbered, **extra}


def problems(document: object) -> list[str]:
    """Every issue as "path: message"."""
    with pytest.raises(DefinitionError) as caught:
        validate_definition(document)
    return [str(issue) for issue in caught.value.issues]


def problem(document: object) -> str:
    """The one issue a document has."""
    found = problems(document)
    assert len(found) == 1, found
    return found[0]


# --- valid definitions -----------------------------------------------------------------


def test_the_design_example_is_valid() -> None:
    parsed = validate_definition(DESIGN_EXAMPLE)
    assert [step.id for step in parsed.steps] == ["fetch", "report"]
    assert parsed.inputs["threshold_ms"].default == 2000
    assert not parsed.inputs["threshold_ms"].is_required
    assert parsed.inputs["url"].is_required


def test_every_step_type_has_an_example_here() -> None:
    assert set(VALID_STEPS) == set(STEP_TYPES)


@pytest.mark.parametrize("step_type", sorted(VALID_STEPS))
def test_a_valid_step_of_each_type(step_type: str) -> None:
    parsed = validate_definition(definition(VALID_STEPS[step_type]))
    step = parsed.steps[0]
    assert step.type == step_type
    assert isinstance(step, STEP_TYPES[step_type])


def test_the_registry_keys_are_the_models_type_names() -> None:
    assert list(STEP_TYPES) == sorted(STEP_TYPES)
    for name, model in STEP_TYPES.items():
        assert model.model_fields["type"].default == name


def test_aliases_are_read_and_written_back_as_written() -> None:
    document = definition(VALID_STEPS["http"], VALID_STEPS["branch"], VALID_STEPS["email"])
    parsed = validate_definition(document)
    http = parsed.steps[0]
    assert isinstance(http, HttpStep)
    assert http.with_.method == "POST"  # read case-insensitively, kept upper-case
    assert http.with_.json_ == {"name": "{{ inputs.name }}"}
    assert isinstance(parsed.steps[1], BranchStep)
    assert parsed.steps[1].if_ == "{{ inputs.items | length > 0 }}"
    written = parsed.to_document()
    assert written["steps"][0]["with"]["json"] == {"name": "{{ inputs.name }}"}
    assert written["steps"][1]["else"][0]["id"] == "no"
    assert written["steps"][2]["with"]["from"] == "flowdeck@example.com"
    assert validate_definition(written).to_document() == written
    assert validate_definition(parsed) == parsed


def test_values_may_be_expressions_where_they_are_computed() -> None:
    step = {
        "type": "http",
        "timeout": "{{ inputs.timeout }}",
        "with": {
            "method": "{{ inputs.method }}",
            "url": "{{ inputs.url }}",
            "headers": "{{ inputs.headers }}",
            "expect": ["{{ inputs.status }}", 204],
        },
    }
    names = ("timeout", "method", "url", "headers", "status")
    inputs: dict[str, Any] = {name: {} for name in names}
    validate_definition({"inputs": inputs, "steps": [{"id": "call", **step}]})


def test_iter_steps_gives_every_step_with_its_path() -> None:
    document = definition(
        VALID_STEPS["branch"],
        {**VALID_STEPS["parallel"], "id": "p"},
        {"type": "foreach", "items": [1, 2], "steps": [{"id": "inner", **VALID_STEPS["branch"]}]},
    )
    document["steps"][2]["steps"][0]["then"] = [{"id": "deep", **LOG}]
    document["steps"][2]["steps"][0]["else"] = []
    paths = [(path, step.id) for path, step in iter_steps(validate_definition(document).steps)]
    assert paths == [
        ("steps[0]", "s0"),
        ("steps[0].then[0]", "yes"),
        ("steps[0].else[0]", "no"),
        ("steps[1]", "p"),
        ("steps[1].branches.left[0]", "l"),
        ("steps[1].branches.right[0]", "r"),
        ("steps[2]", "s2"),
        ("steps[2].steps[0]", "inner"),
        ("steps[2].steps[0].then[0]", "deep"),
    ]


def test_the_json_schema_can_be_published() -> None:
    schema = Definition.model_json_schema()
    assert "steps" in schema["properties"]
    assert json.dumps(schema)


# --- shape ---------------------------------------------------------------------------------


def test_an_unknown_step_type_lists_the_known_ones() -> None:
    assert problem(definition({"type": "htp", "with": {}})) == (
        "steps[0].type: unknown step type 'htp' (did you mean 'http'?); known types: branch, "
        "delay, email, fail, foreach, http, llm, log, parallel, set, wait, workflow"
    )


def test_a_step_without_type_or_id_says_so() -> None:
    assert problems({"steps": [{"id": "a"}, {"type": "log", "with": {"message": "x"}}]}) == [
        "steps[0].type: missing 'type': every step needs a type, one of: branch, delay, email, "
        "fail, foreach, http, llm, log, parallel, set, wait, workflow",
        "steps[1].id: missing 'id': every step needs an id, unique in the definition",
    ]


def test_an_unknown_argument_names_it_and_the_expected_ones() -> None:
    found = problem(definition({"type": "http", "with": {"url": "https://x", "urll": "y"}}))
    assert found == (
        "steps[0].with.urll: unknown argument 'urll' for an http step (did you mean 'url'?); "
        "expected one of: body, expect, headers, json, method, query, timeout, url"
    )


def test_an_argument_outside_with_is_pointed_there() -> None:
    found = problem(definition({"type": "http", "url": "https://x", "with": {"url": "https://x"}}))
    assert found == (
        "steps[0].url: unknown key 'url' for an http step: 'url' is an argument, put "
        "it under 'with'"
    )


def test_a_missing_with_lists_what_is_required() -> None:
    assert problem(definition({"type": "email"})) == (
        "steps[0].with: missing 'with': an email step takes its arguments there (to, "
        "subject required)"
    )


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (
            {"type": "http", "with": {}},
            "steps[0].with.url: missing argument 'url': an http step needs it",
        ),
        (
            {"type": "http", "with": {"url": "https://x", "method": "FETCH"}},
            "steps[0].with.method: 'FETCH' is not one of: 'GET', 'POST', 'PUT', 'PATCH', "
            "'DELETE', 'HEAD' or 'OPTIONS'",
        ),
        (
            {"type": "http", "with": {"url": "ftp://x"}},
            "steps[0].with.url: 'ftp://x' is not an http:// or https:// URL",
        ),
        (
            {"type": "http", "with": {"url": "https://x", "json": {}, "body": "raw"}},
            "steps[0].with: give either 'json' or 'body', not both",
        ),
        (
            {"type": "http", "with": {"url": "https://x", "expect": [200, 700]}},
            "steps[0].with.expect[1]: must be at most 599 (got 700)",
        ),
        (
            {"type": "http", "with": {"url": "https://x"}, "idempotent": "{{ true }}"},
            "steps[0].idempotent: expected true or false, got '{{ true }}' (this takes a "
            "value written out, not an expression)",
        ),
        (
            {"type": "set", "with": {}},
            "steps[0].with: a set step needs at least one name: value under 'with'",
        ),
        (
            {"type": "branch", "if": "{{ true }}"},
            "steps[0]: a branch step needs steps under 'then', 'else' or both",
        ),
        (
            {"type": "branch", "if": "inputs.url", "then": [{"id": "a", **LOG}]},
            "steps[0].if: expected an expression in {{ }}, got 'inputs.url' (did you mean "
            "'{{ inputs.url }}'?)",
        ),
        (
            {"type": "foreach", "items": "{{ inputs.items }}", "steps": []},
            "steps[0].steps: a foreach step needs at least one step under 'steps'",
        ),
        (
            {"type": "foreach", "items": "inputs.items", "steps": [{"id": "a", **LOG}]},
            "steps[0].items: expected a list or an expression such as '{{ inputs.urls }}', "
            "got 'inputs.items'",
        ),
        (
            {"type": "foreach", "items": [1], "concurrency": 100, "steps": [{"id": "a", **LOG}]},
            "steps[0].concurrency: must be at most 64 (got 100)",
        ),
        (
            {
                "type": "foreach",
                "items": [1],
                "concurrency": "{{ 4 }}",
                "steps": [{"id": "a", **LOG}],
            },
            "steps[0].concurrency: expected a whole number, got '{{ 4 }}' (this takes a "
            "value written out, not an expression)",
        ),
        (
            {"type": "parallel", "branches": {}},
            "steps[0].branches: a parallel step needs at least one branch",
        ),
        (
            {"type": "parallel", "branches": {"left": []}},
            "steps[0].branches.left: a branch needs at least one step",
        ),
        (
            {"type": "parallel", "branches": {"two words": [{"id": "a", **LOG}]}},
            "steps[0].branches[\"two words\"]: 'two words' is not a valid branch name: use "
            "letters, digits and underscores, not starting with a digit",
        ),
        (
            {"type": "delay", "with": {"for": "5m", "until": "{{ inputs.url }}"}},
            "steps[0].with: give exactly one of 'for' (a duration) or 'until' (a time)",
        ),
        (
            {"type": "delay", "with": {"until": "next tuesday"}},
            "steps[0].with.until: expected an expression or an ISO 8601 time such as "
            "'2030-01-31T09:00:00Z', got 'next tuesday'",
        ),
        (
            {"type": "wait", "with": {"signal": "sign-off"}},
            "steps[0].with.signal: 'sign-off' is not a valid signal name: use letters, "
            "digits and underscores, not starting with a digit",
        ),
        (
            {"type": "workflow", "with": {"workflow": ""}},
            "steps[0].with.workflow: must not be empty",
        ),
        (
            {"type": "log", "with": {"message": "x", "level": "loud"}},
            "steps[0].with.level: 'loud' is not one of: 'debug', 'info', 'warning' or 'error'",
        ),
        (
            {"type": "fail", "with": {}},
            "steps[0].with.message: missing argument 'message': a fail step needs it",
        ),
        (
            {"type": "email", "with": {"to": "ops@example.com", "subject": "s"}},
            "steps[0].with: give 'text', 'html' or both: the message needs a body",
        ),
        (
            {"type": "email", "with": {"to": ["ops"], "subject": "s", "text": "t"}},
            "steps[0].with.to: 'ops' is not an email address",
        ),
        (
            {
                "type": "email",
                "with": {
                    "to": "a@b.c",
                    "subject": "s",
                    "html": "h",
                    "smtp": {"host": "h", "security": "ssl"},
                },
            },
            "steps[0].with.smtp.security: 'ssl' is not one of: 'starttls', 'tls' or 'none'",
        ),
        (
            {"type": "llm", "with": {"model": "m", "prompt": "p", "messages": []}},
            "steps[0].with: give exactly one of 'prompt' (text) or 'messages' (a chat)",
        ),
        (
            {"type": "llm", "with": {"model": "m", "messages": [{"role": "bot", "content": "x"}]}},
            "steps[0].with.messages[0].role: 'bot' is not one of: 'system', 'user' or 'assistant'",
        ),
        (
            {"type": "llm", "with": {"model": "m", "prompt": "p", "temperature": 3}},
            "steps[0].with.temperature: must be at most 2 (got 3)",
        ),
        (
            {"type": "llm", "with": {"model": "m", "prompt": "p", "max_tokens": 0}},
            "steps[0].with.max_tokens: must be more than 0 (got 0)",
        ),
        ({**LOG, "retry": {"attempts": 0}}, "steps[0].retry.attempts: must be at least 1 (got 0)"),
        (
            {**LOG, "retry": {"backoff": "5m", "max_backoff": "1m"}},
            "steps[0].retry: 'backoff' is longer than 'max_backoff'",
        ),
        ({**LOG, "timeout": "0s"}, "steps[0].timeout: '0s' is zero; give a duration longer than 0"),
        (
            {**LOG, "when": "yes please"},
            "steps[0].when: expected an expression in {{ }}, got 'yes please' (did you "
            "mean '{{ yes please }}'?)",
        ),
        (
            {**LOG, "continue_on_error": "maybe"},
            "steps[0].continue_on_error: expected true or false, got 'maybe'",
        ),
    ],
)
def test_a_wrong_step_is_reported_at_its_path(step: dict[str, Any], expected: str) -> None:
    assert problem(definition(step)) == expected


def test_nested_mappings_name_their_own_keys() -> None:
    email = {"to": "a@b.c", "subject": "s", "text": "t", "smtp": {"host": "h", "hots": "x"}}
    chat = {"model": "m", "messages": [{"role": "user", "content": "c", "name": "x"}]}
    document = definition(
        {"type": "email", "with": email},
        {"type": "llm", "with": chat},
        {"type": "log", "with": "hello"},
        {"type": "http", "with": {"url": "https://x", "headers": ["X-A: b"]}},
    )
    assert problems(document) == [
        "steps[0].with.smtp.hots: unknown key 'hots' (did you mean 'host'?); expected one of: "
        "host, password, port, security, username",
        "steps[1].with.messages[0].name: unknown key 'name'; expected one of: content, role",
        "steps[2].with: expected a mapping (key: value), got 'hello'",
        "steps[3].with.headers: expected a mapping (key: value), got a list",
    ]


@pytest.mark.parametrize("where", ["timeout", "retry.backoff", "with.timeout"])
def test_a_bad_duration_is_reported_with_the_units_to_use(where: str) -> None:
    step: dict[str, Any] = {"type": "wait", "with": {"signal": "go"}}
    owner, _, key = where.rpartition(".")
    target = step if not owner else step.setdefault(owner, {})
    target[key] = "10 minutes"
    assert problem(definition(step)) == (
        f"steps[0].{where}: '10 minutes' is not a duration; write a duration as a number with a "
        'unit: "500ms", "10s", "5m", "2h", "1d", "1h30m", or plain seconds'
    )


def test_step_ids_follow_the_name_rule() -> None:
    assert problem({"steps": [{**LOG, "id": "2nd-step"}]}) == (
        "steps[0].id: '2nd-step' is not a valid step id: use letters, digits and underscores, "
        "not starting with a digit"
    )


def test_a_step_that_is_not_a_mapping_says_what_a_step_is() -> None:
    assert problem({"steps": ["fetch"]}) == (
        "steps[0]: a step is a mapping with at least 'id' and 'type', not 'fetch'"
    )


def test_unknown_top_level_keys_and_input_keys_are_reported() -> None:
    assert problems({"step": [], "inputs": {"url": {"typ": "string"}}}) == [
        "inputs.url.typ: unknown key 'typ' for an input (did you mean 'type'?); expected one of: "
        "default, description, enum, required, type",
        "step: unknown key 'step' in the definition (did you mean 'steps'?); expected one of: "
        "conditions, goal, inputs, outputs, steps, timeout",
    ]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            None,
            "a definition is a mapping with the keys conditions, goal, inputs, outputs, "
            "steps, timeout; got nothing",
        ),
        (
            [1],
            "a definition is a mapping with the keys conditions, goal, inputs, outputs, "
            "steps, timeout; got list",
        ),
        (
            "steps: [\n  {id: a",
            "not valid YAML or JSON: expected ',' or '}', but got '<stream end>' (line 2, "
            "column 9)",
        ),
    ],
)
def test_a_document_that_is_not_a_mapping_is_one_problem(document: object, expected: str) -> None:
    assert problem(document) == expected


# --- ids, expressions, references ---------------------------------------------------------


def test_duplicate_ids_are_found_in_nested_steps_too() -> None:
    document = definition({**VALID_STEPS["branch"], "id": "check"}, {**LOG, "id": "yes"})
    assert (
        problem(document)
        == "steps[1].id: duplicate step id 'yes' (first used at steps[0].then[0].id)"
    )


def test_an_expression_that_does_not_parse_gives_jinja_s_message_and_line() -> None:
    step = {
        "type": "http",
        "with": {"url": "https://x", "json": {"rows": [{"v": "a\n{{ inputs.url + }}"}]}},
    }
    assert problem(definition(step)) == (
        "steps[0].with.json.rows[0].v: the expression does not parse: "
        "unexpected 'end of print statement' (line 2)"
    )


def test_an_unknown_filter_is_an_expression_problem() -> None:
    assert problem(definition({**LOG, "when": "{{ inputs.url | shout }}"})) == (
        "steps[0].when: the expression does not parse: No filter named 'shout'. (line 1)"
    )


def test_unknown_names_suggest_the_right_one() -> None:
    step = {
        "type": "http",
        "with": {"url": "{{ input.url }}", "headers": {"X-Id": "{{ execution.id }}"}},
    }
    assert problem(definition(step)) == (
        "steps[0].with.url: unknown name 'input' in expression (did you mean 'inputs'?)"
    )


def test_undeclared_inputs_are_reported_with_the_declared_ones() -> None:
    assert problem(definition({"type": "set", "with": {"u": "{{ inputs.ulr }}"}})) == (
        "steps[0].with.u: inputs.ulr is not a declared input (did you mean 'url'?); "
        "declared: items, name, url"
    )
    assert problem({"steps": [{"id": "a", "type": "set", "with": {"u": "{{ inputs.url }}"}}]}) == (
        "steps[0].with.u: inputs.url is not a declared input; this definition declares no inputs"
    )


def set_step(step_id: str, expression: str) -> dict[str, Any]:
    return {"id": step_id, "type": "set", "with": {"v": expression}}


def test_steps_may_use_earlier_steps_and_those_before_their_container() -> None:
    document = {
        "steps": [
            set_step("first", "1"),
            {
                "id": "loop",
                "type": "foreach",
                "items": "{{ steps.first.output.v }}",
                "steps": [
                    set_step("a", "{{ steps.first.output }} {{ item }} {{ loop.index }}"),
                    {
                        "id": "check",
                        "type": "branch",
                        "if": "{{ steps.a.output.v }}",
                        "then": [set_step("b", "{{ steps.a.output }} {{ steps.first.status }}")],
                    },
                ],
            },
            set_step("after", "{{ steps.loop.output }}"),
        ],
        "outputs": {"all": "{{ steps.loop.output }}", "last": "{{ steps['after'].output }}"},
    }
    validate_definition(document)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            [set_step("a", "{{ steps.b.output }}"), set_step("b", "1")],
            "steps[0].with.v: step 'b' (at steps[1]) runs after this one; only earlier "
            "steps can be used",
        ),
        (
            [set_step("a", "{{ steps.a.output }}")],
            "steps[0].with.v: a step cannot use its own result (steps.a): it exists once "
            "the step has finished",
        ),
        (
            [
                {
                    "id": "loop",
                    "type": "foreach",
                    "items": [1],
                    "steps": [set_step("a", "{{ steps.loop }}")],
                }
            ],
            "steps[0].steps[0].with.v: step 'loop' contains this step, so its result does "
            "not exist yet here",
        ),
        (
            [
                {
                    "id": "loop",
                    "type": "foreach",
                    "items": "{{ steps.a }}",
                    "steps": [set_step("a", "1")],
                }
            ],
            "steps[0].items: step 'a' is inside this step: its steps run after this step's "
            "own fields are evaluated",
        ),
        (
            [
                {"id": "loop", "type": "foreach", "items": [1], "steps": [set_step("a", "1")]},
                set_step("after", "{{ steps.a.output }}"),
            ],
            "steps[1].with.v: step 'a' is inside foreach step 'loop' (at steps[0]) and "
            "cannot be used outside it; use steps.loop instead",
        ),
        (
            [
                {
                    "id": "both",
                    "type": "parallel",
                    "branches": {
                        "left": [set_step("l", "{{ steps.r }}")],
                        "right": [set_step("r", "1")],
                    },
                }
            ],
            "steps[0].branches.left[0].with.v: step 'r' is in branch 'right' of parallel "
            "step 'both', which runs at the same time as this one: branches cannot use "
            "each other's steps",
        ),
        (
            [
                {
                    "id": "pick",
                    "type": "branch",
                    "if": "{{ true }}",
                    "then": [set_step("t", "1")],
                    "else": [set_step("e", "{{ steps.t.output }}")],
                }
            ],
            "steps[0].else[0].with.v: step 't' is in the 'then' part of branch step "
            "'pick': only one part runs",
        ),
        (
            [set_step("a", "{{ steps.nope.output }}")],
            "steps[0].with.v: no step has the id 'nope'",
        ),
        (
            [set_step("fetch", "1"), set_step("b", "{{ steps.fetch.body }}")],
            "steps[1].with.v: steps.fetch has no 'body' (did you mean "
            "steps.fetch.output.body?); a step's result has attempts, elapsed_ms, error, "
            "output, status",
        ),
        (
            [set_step("a", "{{ item }}")],
            "steps[0].with.v: 'item' is only defined inside the steps of a foreach step",
        ),
    ],
)
def test_references_to_steps_that_have_not_run_are_reported(
    steps: list[dict[str, Any]], expected: str
) -> None:
    assert problem({"steps": steps}) == expected


def test_outputs_may_use_top_level_steps_only() -> None:
    document = {
        "steps": [{"id": "loop", "type": "foreach", "items": [1], "steps": [set_step("a", "1")]}],
        "outputs": {"ok": "{{ steps.loop.output }}", "inner": "{{ steps.a.output }}"},
    }
    assert problem(document) == (
        "outputs.inner: step 'a' is inside foreach step 'loop' (at steps[0]) and cannot be used "
        "outside it; use steps.loop instead"
    )


def test_conditions_cannot_use_steps() -> None:
    document = {"steps": [set_step("a", "1")], "conditions": ["{{ steps.a.output.v }}"]}
    assert problem(document) == (
        "conditions[0]: conditions are checked before any step runs, so they cannot use steps"
    )


def test_names_an_expression_defines_itself_are_not_unknown() -> None:
    text = (
        "{% set total = 0 %}{% for row in inputs.items %}{{ row }}{{ loop.index }}{% "
        "endfor %}{{ total }}"
    )
    validate_definition(definition({"type": "log", "with": {"message": text}}))


def test_every_problem_is_reported_at_once_in_document_order() -> None:
    document = {
        "inputs": {"count": {"type": "integer", "default": "many"}},
        "conditions": ["inputs.count > 0"],
        "steps": [
            {"id": "fetch", "type": "http", "with": {"url": "{{ inputs.url }}", "method": "FETCH"}},
            {"id": "fetch", "type": "htp"},
            {"id": "report", "type": "set", "with": {"text": "{{ steps.fetch.output.status + }}"}},
        ],
        "outputs": {"status": "{{ steps.missing.output }}"},
        "timeout": "soon",
    }
    with pytest.raises(DefinitionError) as caught:
        validate_definition(document)
    assert [issue.path for issue in caught.value.issues] == [
        "inputs.count.default",
        "conditions[0]",
        "steps[0].with.method",
        "steps[0].with.url",
        "steps[1].id",
        "steps[1].type",
        "steps[2].with.text",
        "outputs.status",
        "timeout",
    ]
    summary = str(caught.value)
    assert summary.startswith("9 problems in the definition:\n- inputs.count.default: ")
    assert "\n- steps[1].id: duplicate step id 'fetch' (first used at steps[0].id)\n" in summary


def test_the_issue_list_is_data_for_the_api() -> None:
    with pytest.raises(DefinitionError) as caught:
        validate_definition({"steps": [{"id": "a", "type": "nope"}]})
    assert caught.value.issues[0] == Issue(
        "steps[0].type",
        "unknown step type 'nope'; known types: branch, delay, email, fail, foreach, http, llm, "
        "log, parallel, set, wait, workflow",
    )


# --- declared inputs and coercion ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"type": "integer", "default": 1.5},
            "inputs.n.default: the default does not fit the type integer: expected a whole "
            "number, got 1.5",
        ),
        (
            {"type": "string", "enum": ["a", 1]},
            "inputs.n.enum: a value does not fit the type string: expected text, got 1",
        ),
        (
            {"type": "string", "enum": ["a", "b"], "default": "c"},
            "inputs.n.enum: the default 'c' is not one of these values",
        ),
        (
            {"type": "integer", "default": 1, "required": True},
            "inputs.n.required: an input with a default is optional: remove 'required: "
            "true' or the default",
        ),
        (
            {"type": "date"},
            "inputs.n.type: 'date' is not one of: 'string', 'integer', 'number', "
            "'boolean', 'object' or 'array'",
        ),
    ],
)
def test_declared_inputs_are_checked(spec: dict[str, Any], expected: str) -> None:
    assert problem({"inputs": {"n": spec}}) == expected


def test_input_names_follow_the_name_rule() -> None:
    assert problem({"inputs": {"api-key": {}}}) == (
        "inputs[\"api-key\"]: 'api-key' is not a valid input name: use letters, digits and "
        "underscores, not starting with a digit"
    )


def declare(**specs: dict[str, Any]) -> dict[str, InputSpec]:
    return {name: InputSpec.model_validate(spec) for name, spec in specs.items()}


@pytest.mark.parametrize(
    ("kind", "given", "expected"),
    [
        ("integer", "7", 7),
        ("integer", " -3 ", -3),
        ("integer", 7.0, 7),
        ("number", "2.5", 2.5),
        ("number", "7", 7),
        ("number", 3, 3),
        ("boolean", "true", True),
        ("boolean", "No", False),
        ("boolean", "yes", True),
        ("boolean", "0", False),
        ("boolean", 1, True),
        ("object", '{"a": 1}', {"a": 1}),
        ("array", "[1, 2]", [1, 2]),
        ("array", (1, 2), [1, 2]),
        ("string", "7", "7"),
    ],
)
def test_text_from_a_command_line_or_form_is_coerced(
    kind: str, given: object, expected: object
) -> None:
    assert coerce_inputs(declare(value={"type": kind}), {"value": given}) == {"value": expected}


@pytest.mark.parametrize(
    ("kind", "given", "expected"),
    [
        ("integer", "seven", "expected a whole number, got 'seven'"),
        ("integer", 2.5, "expected a whole number, got 2.5"),
        ("integer", True, "expected a whole number, got True"),
        ("number", "nan", "expected a number, got nan"),
        ("boolean", "maybe", "expected true or false (or yes/no, 1/0), got 'maybe'"),
        ("object", "[1]", "expected an object (a JSON mapping), got [1]"),
        ("array", "{oops", "expected an array (a JSON list), got text that is not JSON: '{oops'"),
        ("string", 7, "expected text, got 7"),
    ],
)
def test_values_that_do_not_fit_are_errors_at_their_path(
    kind: str, given: object, expected: str
) -> None:
    with pytest.raises(DefinitionError) as caught:
        coerce_inputs(declare(value={"type": kind}), {"value": given})
    assert [str(issue) for issue in caught.value.issues] == [f"inputs.value: {expected}"]


def test_defaults_apply_and_are_not_shared_between_runs() -> None:
    declared = declare(
        threshold_ms={"type": "integer", "default": "2000"},
        tags={"type": "array", "default": ["a"]},
    )
    first = coerce_inputs(declared, {})
    assert first == {"threshold_ms": 2000, "tags": ["a"]}
    assert first["tags"] is not declared["tags"].default


def test_blank_form_fields_count_as_not_given() -> None:
    declared = declare(
        n={"type": "integer", "default": 5}, note={"type": "string", "required": False}
    )
    assert coerce_inputs(declared, {"n": "  "}) == {"n": 5, "note": None}
    assert coerce_inputs(declared, {"note": ""}) == {"n": 5, "note": ""}


def test_unknown_and_missing_inputs_are_all_reported() -> None:
    declared = declare(
        a={"type": "integer", "description": "How many"},
        b={"type": "string", "enum": ["x", "y"]},
        c={"type": "boolean", "default": False},
    )
    with pytest.raises(DefinitionError) as caught:
        coerce_inputs(declared, {"nope": 1, "b": "z", "c": "perhaps"})
    assert [str(issue) for issue in caught.value.issues] == [
        "inputs.a: missing required input (integer): How many",
        "inputs.b: 'z' is not one of: 'x', 'y'",
        "inputs.c: expected true or false (or yes/no, 1/0), got 'perhaps'",
        "inputs.nope: not a declared input; declared: a, b, c",
    ]
    assert str(caught.value).startswith("4 problems in the inputs:")


def test_paths_follow_the_name_given() -> None:
    with pytest.raises(DefinitionError) as caught:
        coerce_inputs(
            declare(threshold_ms={"type": "integer"}), {"threshold_ms": "fast"}, path="config"
        )
    assert (
        str(caught.value)
        == "1 problem in the config: config.threshold_ms: expected a whole number, got 'fast'"
    )


def test_nothing_declared_means_nothing_may_be_given() -> None:
    with pytest.raises(
        DefinitionError, match=r"inputs\.url: not a declared input; none are declared"
    ):
        coerce_inputs({}, {"url": "https://x"})


def test_steps_built_in_code_write_their_type() -> None:
    arguments = HttpArgs(url="https://example.com")
    step = HttpStep.model_validate({"id": "a", "with": arguments})
    written = Definition(steps=[step]).to_document()
    assert written == {
        "steps": [{"id": "a", "type": "http", "with": {"url": "https://example.com"}}]
    }
    assert validate_definition(written).steps == [step]


def test_empty_yaml_sections_mean_none() -> None:
    assert validate_definition("inputs:\nconditions:\nsteps:\noutputs:\n") == Definition()


DOCS = Path(__file__).resolve().parents[2] / "docs" / "definition.md"


def test_every_example_in_the_language_reference_is_valid() -> None:
    examples = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert len(examples) >= 15
    types_shown = set()
    for example in examples:
        document = yaml.safe_load(example)
        if "steps" not in document:
            document = {"inputs": {"url": {}, "threshold_ms": {}}, **document}
        parsed = validate_definition(document)
        types_shown |= {step.type for _, step in iter_steps(parsed.steps)}
    assert types_shown == set(STEP_TYPES)

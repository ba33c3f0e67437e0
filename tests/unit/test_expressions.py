"""Expressions: native results, clear errors, static references, and a sandbox that holds."""

from __future__ import annotations

from typing import Any

import pytest

from flowdeck.definition import limits
from flowdeck.definition.expressions import (
    ExpressionError,
    is_expression,
    make_environment,
    parse_expression,
    reference_paths,
    references,
    render,
)

CONTEXT: dict[str, Any] = {
    "inputs": {"url": "https://example.com", "count": 3, "zip": "01234", "code": "123"},
    "config": {"region": "eu"},
    "steps": {
        "fetch": {
            "output": {"status": 200, "body": {"items": [1, 2, 3], "name": "x"}},
            "status": "succeeded",
            "elapsed_ms": 42,
        }
    },
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("{{ x }}", True), ("{% if x %}y{% endif %}", True), ("a {{", True), ("plain", False)],
)
def test_strings_with_braces_or_tags_are_expressions(value: str, expected: bool) -> None:
    assert is_expression(value) is expected


@pytest.mark.parametrize("value", [42, None, ["{{ x }}"], {"a": "{{ x }}"}])
def test_only_strings_are_expressions(value: object) -> None:
    assert not is_expression(value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ inputs.count }}", 3),
        ("{{ inputs.count * 2 }}", 6),
        ("{{ inputs.code }}", "123"),  # a string of digits stays a string
        ("{{ inputs.zip }}", "01234"),
        ("{{ steps.fetch.output.body['items'] }}", [1, 2, 3]),
        ("{{ steps.fetch.output.status == 200 }}", True),
        ("{{ none }}", None),
        ("{{ {'a': inputs.count} }}", {"a": 3}),
        ("  {{ inputs.count }}\n", 3),
        ("{{ steps.fetch.output.body['items'] | map('string') }}", ["1", "2", "3"]),
        ("{{ range(3) }}", [0, 1, 2]),
    ],
)
def test_one_expression_gives_its_native_value(text: str, expected: object) -> None:
    assert render(text, CONTEXT) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("count: {{ inputs.count }}", "count: 3"),
        ("{{ inputs.count }}{{ inputs.count }}", "33"),
        ("{% for i in range(inputs.count) %}{{ loop.index }}{% endfor %}", "123"),
        ("{% set n = inputs.count + 1 %}{{ n }}", "4"),
        ("{{ config.region | upper }}-{{ inputs.count }}", "EU-3"),
    ],
)
def test_text_around_expressions_gives_text(text: str, expected: str) -> None:
    assert render(text, CONTEXT) == expected


def test_mappings_and_lists_are_rendered_throughout_but_keys_are_kept() -> None:
    value = {
        "url": "{{ inputs.url }}/items",
        "{{ key }}": ["{{ inputs.count }}", 7, {"deep": "{{ config.region }}"}],
        "plain": "no braces",
    }
    assert render(value, CONTEXT) == {
        "url": "https://example.com/items",
        "{{ key }}": [3, 7, {"deep": "eu"}],
        "plain": "no braces",
    }


def test_a_json_key_named_like_a_method_reads_the_key() -> None:
    # `body.items` would be dict.items in plain Jinja; data comes first here.
    assert render("{{ steps.fetch.output.body.items }}", CONTEXT) == [1, 2, 3]


def test_an_undefined_name_is_an_error_naming_it() -> None:
    with pytest.raises(ExpressionError, match=r"'nothing' is undefined \(line 1\)"):
        render("{{ nothing }}", CONTEXT)


def test_a_missing_key_lists_the_keys_present_and_suggests_one() -> None:
    with pytest.raises(ExpressionError) as caught:
        render("{{ steps.fetch.output.stauts }}", CONTEXT)
    assert str(caught.value) == (
        "no key 'stauts' (did you mean 'status'?); keys present: body, status (line 1)"
    )


def test_an_undefined_value_is_never_an_empty_string() -> None:
    with pytest.raises(ExpressionError, match="'missing' is undefined"):
        render("value: {{ missing }}", CONTEXT)


def test_runtime_errors_carry_the_template_line() -> None:
    with pytest.raises(ExpressionError) as caught:
        render("first\nsecond\n{{ inputs.count / 0 }}", CONTEXT)
    assert caught.value.line == 3
    assert str(caught.value) == "division by zero (line 3)"


def test_an_undefined_value_inside_a_list_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="'missing' is undefined"):
        render("{{ [inputs.count, missing] }}", CONTEXT)


def test_loops_keep_their_loop_variables() -> None:
    text = "{% for x in inputs.url.split('.') %}{{ loop.index }}/{{ loop.length }} {% endfor %}"
    assert render(text, CONTEXT) == "1/2 2/2 "


def test_recursive_loops_are_refused_when_parsing() -> None:
    with pytest.raises(ExpressionError, match=r"recursive loops are not supported \(line 1\)"):
        parse_expression("{% for x in inputs recursive %}{{ loop(x) }}{% endfor %}")


def test_a_function_is_not_a_value() -> None:
    with pytest.raises(ExpressionError, match="gives the function 'keys', not a value"):
        render("{{ steps.fetch.output.keys }}", CONTEXT)


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
        "{{ namespace.__init__.__globals__.os.popen('id').read() }}",
        "{{ self._TemplateReference__context }}",
        "{{ self.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ request }}",
        "{{ request.application.__globals__.__builtins__ }}",
        "{{ config.__class__ }}",
        "{{ config.__class__.__init__.__globals__['os'] }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ dict.mro() }}",
        "{{ inputs.__class__.__subclasses__() }}",
        "{{ '{0.__class__}'.format(inputs) }}",
        "{{ inputs['__class__'] }}",
        "{{ range.__self__ }}",
        "{{ inputs.update({'url': 'x'}) }}",
        "{% set x = [] %}{{ x.append(1) }}",
        "{{ inputs.pop('url') }}",
    ],
)
def test_sandbox_escapes_and_mutations_are_refused(payload: str) -> None:
    with pytest.raises(ExpressionError, match=r"unsafe|is undefined|not available|no attribute"):
        render(payload, CONTEXT)
    assert CONTEXT["inputs"]["url"] == "https://example.com"


def test_a_refused_attribute_says_it_is_unsafe() -> None:
    with pytest.raises(ExpressionError, match="access to attribute '__class__' of 'dict'"):
        render("{{ config.__class__ }}", CONTEXT)


def test_helpers_that_reach_python_internals_are_not_defined() -> None:
    with pytest.raises(ExpressionError, match="'cycler' is undefined"):
        render("{{ cycler.__init__.__globals__.os.popen('id').read() }}", CONTEXT)
    assert set(make_environment().globals) == {"range", "dict", "namespace"}


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        ("{{ 'a' * 10000000 }}", "repeating a value 10000000 times"),
        ("{{ [0] * 10000000 }}", "repeating a value"),
        ("{{ 2 ** 1000000 }}", "an exponent of 1000000 is over the limit"),
        ("{{ range(1000000) | list | length }}", "range() of 1000000 items is over the limit"),
        ("{% for i in range(100000) %}{% endfor %}", "over the limit"),
        ("{{ 'x' | center(1000000000) }}", "the center filter"),
        ("{{ 'x' | indent(1000000000) }}", "the indent filter"),
        ("{{ '%1000000000s' % 'x' }}", "a format width of 1000000000"),
        ("{{ '%1000000000s' | format('x') }}", "a format width of 1000000000"),
        ("{{ '{:>1000000000}'.format('x') }}", "a format width of 1000000000"),
        ("{{ 'x'.ljust(1000000000) }}", "str.ljust()"),
        ("{{ ('a' * 900000).replace('a', 'aa') }}", "replace() would make more than"),
        ("{{ ('a' * 900000) | replace('a', 'aa') }}", "replace() would make more than"),
        ("{{ '{:.1000000f}'.format(1.5) }}", "a format width of 1000000"),
        ("{{ '{:>{}}'.format('x', 1000000000) }}", "str.format(): 1000000000 is more than"),
        ("{{ '%*s' % (1000000000, 'x') }}", "a %-format: 1000000000 is more than"),
        (
            "{{ 'a' * 600000 }}{{ 'a' * 600000 }}",
            f"the limit of {limits.ExpressionLimits().max_size} characters",
        ),
    ],
)
def test_expressions_cannot_exhaust_a_worker(payload: str, complaint: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        render(payload, CONTEXT)
    assert complaint in str(caught.value)


@pytest.mark.parametrize(
    "payload",
    [
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    ],
)
def test_loops_and_calls_that_produce_nothing_are_counted(
    payload: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A smaller budget keeps the test fast; the real one is counted the same way.
    monkeypatch.setattr(limits, "_current", limits.ExpressionLimits(max_operations=5_000))
    with pytest.raises(ExpressionError, match="more than 5000 loop iterations and calls"):
        render(payload, CONTEXT)
    assert render("{% for i in range(4000) %}{% endfor %}done", CONTEXT) == "done"


def test_ordinary_arithmetic_and_padding_still_work() -> None:
    assert render("{{ 2 ** 10 }} {{ 'ab' * 3 }} {{ 'x' | center(5) }}|", {}) == "1024 ababab   x  |"


def test_parse_errors_give_jinja_s_message_and_line() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression("line one\n{{ steps.fetch. }}")
    assert caught.value.line == 2
    assert "expected name or number" in str(caught.value)


def test_unknown_filters_are_found_when_parsing() -> None:
    with pytest.raises(ExpressionError, match="No filter named 'shout'"):
        parse_expression("{{ inputs.url | shout }}")


def test_references_name_the_root_and_first_key() -> None:
    text = (
        "{{ steps.fetch.output.status }} {{ steps['my step'].output }} {{ inputs }} {{ "
        "config.region }}"
    )
    assert references(text) == {
        ("steps", "fetch"),
        ("steps", "my step"),
        ("inputs", None),
        ("config", "region"),
    }


def test_references_leave_out_names_the_expression_binds() -> None:
    text = (
        "{% set total = inputs.count %}{{ total }}"
        "{% for row in steps.fetch.output.body['items'] %}{{ row }}{{ loop.index }}{% endfor %}"
        "{% macro line(text) %}{{ text }}{% endmacro %}{{ line('a') }}"
        "{% with n = 2 %}{{ n }}{% endwith %}"
    )
    assert references(text) == {("inputs", "count"), ("steps", "fetch")}


def test_loop_outside_a_jinja_for_is_a_reference_to_the_foreach_loop() -> None:
    assert references("{{ loop.index }} {{ item.name }}") == {("loop", "index"), ("item", "name")}


def test_a_computed_key_ends_the_reference_path() -> None:
    paths = reference_paths("{{ steps[inputs.which].output }} {{ steps.fetch.output.body[0] }}")
    assert paths == {("steps",), ("inputs", "which"), ("steps", "fetch", "output", "body")}


def test_plain_text_has_no_references() -> None:
    assert references("no expression here") == set()


def test_make_environment_gives_independent_sandboxes() -> None:
    first, second = make_environment(), make_environment()
    first.globals["extra"] = 1
    assert "extra" not in second.globals
    assert second.from_string("{{ 1 + 1 }}").render() == "2"

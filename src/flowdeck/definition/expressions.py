"""Expressions: Jinja2 in an immutable sandbox, with native results and static references.

A string that contains `{{` or `{%` is an expression. One that is exactly one `{{ ... }}`
(surrounding whitespace aside) yields the native value (a number stays a number, a list
a list); any other expression string yields text. Undefined names are errors, never
empty strings.

Definitions are written by the people who run them, but workflows may be shared and
templates imported, so expressions are treated as untrusted: the sandbox refuses
`_`-prefixed and internal attributes and calls that mutate, and limits keep one
expression from taking a worker's memory or time (see sandbox.py).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError, nodes
from jinja2.environment import Template, TemplateExpression
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from flowdeck.definition import limits
from flowdeck.definition.issues import join_path
from flowdeck.definition.sandbox import (
    GLOBAL_NAMES,
    LOOP_GUARD,
    ExpressionError,
    checked,
    guarded_iter,
    make_environment,
    operation_budget,
)

__all__ = [
    "CONTEXT_NAMES",
    "GLOBAL_NAMES",
    "ExpressionError",
    "is_expression",
    "make_environment",
    "parse_expression",
    "reference_paths",
    "references",
    "render",
]

# Names an expression may start from; `item` and `loop` exist only in foreach bodies.
CONTEXT_NAMES = frozenset(
    {"inputs", "config", "secrets", "steps", "execution", "workflow", "item", "loop"}
)


def is_expression(value: object) -> bool:
    """Whether `value` is a string that Flowdeck evaluates (it contains `{{` or `{%`)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


@functools.cache
def _environment() -> ImmutableSandboxedEnvironment:
    return make_environment()


def parse_expression(text: str) -> nodes.Template:
    """The Jinja2 syntax tree of `text`; raise ExpressionError with the line when it is wrong.

    Besides the syntax, this checks what Jinja2 checks when it compiles: unknown filters
    and tests are reported here rather than when the workflow runs. Trees are cached and
    shared (validation sees the same strings again and again): do not modify them.
    """
    return _parse(text)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> nodes.Template:
    environment = _environment()
    try:
        tree = environment.parse(text)
        environment.compile(tree)
    except TemplateSyntaxError as exc:
        raise ExpressionError(exc.message or str(exc), line=exc.lineno) from None
    except TemplateError as exc:
        raise ExpressionError(exc.message or str(exc)) from None
    for loop in tree.find_all(nodes.For):
        if loop.recursive:
            # A recursive loop re-enters with iterables the loop guard does not see.
            raise ExpressionError("recursive loops are not supported", line=loop.lineno)
    return tree


def reference_paths(expression: str | nodes.Template) -> set[tuple[str, ...]]:
    """Every context path the expression reads: ("steps", "fetch", "output"), ("inputs",).

    A path stops where an item is looked up by a computed key (`steps[name]` gives
    ("steps",)). Names that the expression binds itself ({% set %}, for-loop variables,
    macro arguments, `loop` inside a for) are not context names and are left out.
    """
    tree = parse_expression(expression) if isinstance(expression, str) else expression
    found: set[tuple[str, ...]] = set()
    _visit_body(tree.body, frozenset(), found)
    return found


def references(text: str | nodes.Template) -> set[tuple[str, str | None]]:
    """(root name, first attribute or constant key, or None) for every context name used.

    `{{ steps.fetch.output }}` gives ("steps", "fetch"); `{{ steps['a b'] }}` gives
    ("steps", "a b"); `{{ inputs }}` gives ("inputs", None).
    """
    return {(path[0], path[1] if len(path) > 1 else None) for path in reference_paths(text)}


def _stored_names(target: nodes.Node) -> set[str]:
    names = [target, *target.find_all(nodes.Name)]  # find_all skips the node itself
    return {node.name for node in names if isinstance(node, nodes.Name) and node.ctx != "load"}


def _assigned(body: Sequence[nodes.Node]) -> set[str]:
    """Names a scope binds. Jinja scopes by block, not by position, and an {% if %} body
    belongs to the scope around it."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, nodes.Assign | nodes.AssignBlock):
            names |= _stored_names(node.target)
        elif isinstance(node, nodes.Macro):
            names.add(node.name)
        elif isinstance(node, nodes.If):
            names |= _assigned([*node.body, *node.elif_, *node.else_])
    return names


def _visit_body(
    body: Sequence[nodes.Node], bound: frozenset[str], found: set[tuple[str, ...]]
) -> None:
    scope = bound | _assigned(body)
    for node in body:
        _visit(node, scope, found)


def _visit(node: nodes.Node, bound: frozenset[str], found: set[tuple[str, ...]]) -> None:
    if isinstance(node, nodes.For):
        _visit(node.iter, bound, found)
        inner = bound | _stored_names(node.target)
        if node.test is not None:
            _visit(node.test, inner, found)
        _visit_body(node.body, inner | {"loop"}, found)
        _visit_body(node.else_, bound, found)
    elif isinstance(node, nodes.Macro | nodes.CallBlock):
        for default in node.defaults:
            _visit(default, bound, found)
        if isinstance(node, nodes.CallBlock):
            _visit(node.call, bound, found)
        params = {arg.name for arg in node.args} | {"varargs", "kwargs", "caller"}
        _visit_body(node.body, bound | params, found)
    elif isinstance(node, nodes.With):
        for value in node.values:
            _visit(value, bound, found)
        names = set().union(*(_stored_names(target) for target in node.targets))
        _visit_body(node.body, bound | names, found)
    elif isinstance(node, nodes.Getattr | nodes.Getitem):
        _visit_chain(node, bound, found)
    elif isinstance(node, nodes.Name):
        if node.ctx == "load" and node.name not in bound:
            found.add((node.name,))
    else:
        for child in node.iter_child_nodes():
            _visit(child, bound, found)


def _visit_chain(
    node: nodes.Getattr | nodes.Getitem, bound: frozenset[str], found: set[tuple[str, ...]]
) -> None:
    parts: list[str] = []  # innermost last while walking down, reversed at the end
    current: nodes.Node = node
    while isinstance(current, nodes.Getattr | nodes.Getitem):
        if isinstance(current, nodes.Getattr):
            parts.append(current.attr)
        elif isinstance(current.arg, nodes.Const) and isinstance(current.arg.value, str):
            parts.append(current.arg.value)
        else:
            # A computed key: what comes after it is not a fixed path.
            parts.clear()
            _visit(current.arg, bound, found)
        current = current.node
    if isinstance(current, nodes.Name) and current.ctx == "load":
        if current.name not in bound:
            found.add((current.name, *reversed(parts)))
    else:
        _visit(current, bound, found)


@dataclass(frozen=True)
class _Compiled:
    native: TemplateExpression | None  # the string is one {{ ... }}: evaluate to its value
    template: Template | None  # otherwise: render to text
    line: int


@functools.lru_cache(maxsize=4096)
def _compile(text: str) -> _Compiled:
    environment = _environment()
    if any(path[0] == "self" for path in reference_paths(parse_expression(text))):
        # Jinja binds `self` to the template's block reference; nothing here needs it.
        raise ExpressionError("'self' is not available in expressions")
    tree = environment.parse(text)  # a tree of our own: the parsed ones are shared
    for loop in tree.find_all(nodes.For):
        guard = nodes.Name(LOOP_GUARD, "load", lineno=loop.lineno)
        loop.iter = nodes.Call(guard, [loop.iter], [], None, None, lineno=loop.lineno)
    tree.set_environment(environment)
    body = tree.body
    if len(body) == 1 and isinstance(body[0], nodes.Output):
        parts = [
            node
            for node in body[0].nodes
            if not (isinstance(node, nodes.TemplateData) and not node.data.strip())
        ]
        if len(parts) == 1 and not isinstance(parts[0], nodes.TemplateData):
            # What compile_expression does, from the tree we already have.
            expression = parts[0]
            assign = nodes.Assign(
                nodes.Name("result", "store"), expression, lineno=expression.lineno
            )
            single = nodes.Template([assign], lineno=1)
            single.set_environment(environment)
            compiled = environment.from_string(single)
            return _Compiled(TemplateExpression(compiled, False), None, expression.lineno)
    return _Compiled(None, environment.from_string(tree), 1)


def render(
    value: Any,
    context: Mapping[str, Any],
    path: str = "",
    on_expression: Callable[[str], None] | None = None,
) -> Any:
    """`value` with every expression in it evaluated against `context`.

    A string that is one `{{ ... }}` gives the native value; a string mixing text and
    expressions gives text; other strings stay as they are. Mappings (values only, not
    keys) and lists are rendered item by item. Raise ExpressionError for anything that
    goes wrong, naming the undefined name or refused attribute, with `.path` saying
    where in `value` the expression was (`path` is put before it). `on_expression` is
    told the path of each expression before it is evaluated (the worker's watchdog).
    """
    return _render(value, context, (path,), on_expression)


def _render(
    value: Any,
    context: Mapping[str, Any],
    parts: tuple[str | int, ...],
    on_expression: Callable[[str], None] | None,
) -> Any:
    # The path is kept as parts and spelled out only where an expression is: most of a
    # step's arguments are plain values, and this runs for every step.
    if isinstance(value, str):
        if not is_expression(value):
            return value
        if on_expression is not None:
            on_expression(join_path(str(parts[0]), *parts[1:]))
        try:
            return _render_string(value, context)
        except ExpressionError as exc:
            exc.path = join_path(str(parts[0]), *parts[1:])
            raise
    if isinstance(value, Mapping):
        return {
            key: _render(item, context, (*parts, key), on_expression) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [
            _render(item, context, (*parts, index), on_expression)
            for index, item in enumerate(value)
        ]
    return value


def _render_string(text: str, context: Mapping[str, Any]) -> Any:
    compiled = _compile(text)
    variables = {**context, LOOP_GUARD: guarded_iter}
    try:
        if compiled.native is not None:
            with operation_budget():
                result = compiled.native(variables)
                if isinstance(result, Undefined):
                    str(result)  # StrictUndefined raises its message here
                return _materialise(result)
        size = 0
        chunks: list[str] = []
        limit = limits.current().max_size
        with operation_budget():
            for chunk in _template(compiled).generate(variables):
                size += len(chunk)
                if size > limit:
                    raise ExpressionError(
                        f"the result is over the limit of {limit} characters "
                        "(FLOWDECK_EXPRESSION_MAX_SIZE)"
                    )
                chunks.append(chunk)
        return "".join(chunks)
    except ExpressionError as exc:
        if exc.line is not None:
            raise
        raise ExpressionError(exc.message, line=_line(exc, compiled)) from None
    except TemplateError as exc:
        raise ExpressionError(exc.message or str(exc), line=_line(exc, compiled)) from None
    except MemoryError:
        # The worker's memory cap (FLOWDECK_WORKER_MEMORY_MB) refused an allocation that
        # no size check could foresee (one call building a huge value in C).
        raise ExpressionError(
            "the expression needed more memory than the worker may use (FLOWDECK_WORKER_MEMORY_MB)"
        ) from None
    except RecursionError:
        raise ExpressionError(
            "calls nested too deeply (a macro that calls itself without end?)",
            line=compiled.line if compiled.native is not None else None,
        ) from None
    except Exception as exc:  # any failure of a user's expression is theirs to read
        detail = str(exc) or type(exc).__name__
        raise ExpressionError(detail, line=_line(exc, compiled)) from None


def _template(compiled: _Compiled) -> Template:
    if compiled.template is None:
        raise TypeError("a single expression has no text template")
    return compiled.template


def _materialise(result: Any) -> Any:
    """Lazy results (map, select, range...) as lists, so they can be stored as JSON."""
    if isinstance(result, types.GeneratorType | range | map | filter | zip) or (
        isinstance(result, Iterator) and not isinstance(result, str)
    ):
        limit = limits.current().max_size
        items = list(islice(guarded_iter(result), limit + 1))
        return checked(items, "the result")
    checked(result, "the result")
    _reject_undefined(result)
    if callable(result):
        # Usually a method reached by a missing key (`output.keys`) or a missing ().
        name = getattr(result, "__name__", type(result).__name__)
        raise ExpressionError(f"the expression gives the function {name!r}, not a value")
    return result


def _reject_undefined(value: Any) -> None:
    """Raise for an undefined value inside a list or mapping (`{{ [missing] }}`): building
    them does not touch the value, so StrictUndefined has not complained yet."""
    if isinstance(value, Undefined):
        str(value)
    elif isinstance(value, list | tuple):
        for item in value:
            _reject_undefined(item)
    elif isinstance(value, dict):
        for item in value.values():
            _reject_undefined(item)


def _line(exc: BaseException, compiled: _Compiled) -> int | None:
    """The template line an error came from: Jinja rewrites tracebacks of rendered
    templates to point into "<template>"; a single expression has one line."""
    if compiled.native is not None:
        return compiled.line
    line = None
    traceback = exc.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == "<template>":
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line

"""The sandbox expressions run in, and the limits that keep one from holding a worker.

Jinja2's ImmutableSandboxedEnvironment refuses `_`-prefixed and internal attributes and
methods that mutate. On top of it: StrictUndefined with messages that list what was
there; no globals but range, dict and namespace; and every value an expression builds on
its way is counted against the limits of one evaluation (limits.py):

- size: the result of every operator (`+ - * / // % **` and `~`), filter, call and
  namespace assignment is measured, and operations whose result size is known in
  advance (repetition, concatenation, join, padding, replace) are refused before they
  allocate;
- operations: loop iterations and calls, because nested loops and recursive macros
  produce no output for the size limit to stop;
- time: a deadline checked at every counted operation.

What a single call can still do in C (a huge allocation, a slow regular expression) is
stopped by the worker's memory cap and watchdog, not here.
"""

from __future__ import annotations

import difflib
import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, missing, object_type_repr

from flowdeck.definition import limits
from flowdeck.definition.limits import MAX_EXPONENT, MAX_RANGE, MAX_SLOW_FILTER_INPUT, MAX_WIDTH
from flowdeck.errors import FlowdeckError

LOOP_GUARD = "flowdeck_loop_guard"  # the name every {% for %} iterable is wrapped in

# Jinja's globals that stay: the others (lipsum, cycler, joiner) are of no use here and
# only widen what an expression can reach.
GLOBAL_NAMES = frozenset({"range", "dict", "namespace"})


class ExpressionError(FlowdeckError):
    """An expression does not parse, or failed while it was evaluated.

    `path` is where in the rendered value the failing expression was (`headers.X`,
    `[2]`), filled in by render(); the runner puts the step's own path before it.
    """

    def __init__(self, message: str, *, line: int | None = None, path: str = "") -> None:
        self.message = message
        self.line = line
        self.path = path
        super().__init__(f"{message} (line {line})" if line is not None else message)


class _Undefined(StrictUndefined):
    """StrictUndefined whose message lists what was there, so a typo is easy to spot."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        name, obj = self._undefined_name, self._undefined_obj
        if self._undefined_hint:
            return self._undefined_hint
        if obj is missing:
            return f"{name!r} is undefined"
        if isinstance(obj, Mapping):
            keys = sorted(str(key) for key in obj)
            if not keys:
                return f"no key {name!r}: the mapping is empty"
            close = difflib.get_close_matches(str(name), keys, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            shown = ", ".join(keys[:20]) + (", ..." if len(keys) > 20 else "")
            return f"no key {name!r}{hint}; keys present: {shown}"
        if isinstance(obj, Sequence) and not isinstance(obj, str) and isinstance(name, int):
            return f"no item {name} in a list of {len(obj)}"
        return f"{object_type_repr(obj)} has no attribute {name!r}"


# --- the budget of one evaluation ---------------------------------------------------------


class _Budget:
    __slots__ = ("deadline", "left", "limits")

    def __init__(self, current: limits.ExpressionLimits) -> None:
        self.limits = current
        self.left = current.max_operations
        self.deadline = time.monotonic() + current.max_seconds


_budget: ContextVar[_Budget | None] = ContextVar("flowdeck_expression_budget", default=None)


def _spend() -> None:
    budget = _budget.get()
    if budget is None:
        return
    budget.left -= 1
    if budget.left < 0:
        raise ExpressionError(
            f"the expression did more than {budget.limits.max_operations} loop iterations "
            "and calls (FLOWDECK_EXPRESSION_MAX_OPERATIONS)"
        )
    if time.monotonic() > budget.deadline:
        raise ExpressionError(
            f"the expression ran for more than {budget.limits.max_seconds:g} s "
            "(FLOWDECK_EXPRESSION_TIMEOUT)"
        )


def guarded_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    """`iterable`, counting each item against the render's budget (see LOOP_GUARD)."""
    for item in iterable:
        _spend()
        yield item


class operation_budget:
    """Count what is done inside the block against the limits of one evaluation.

    A class rather than @contextmanager: it wraps every expression a step evaluates."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _budget.set(_Budget(limits.current()))

    def __exit__(self, *_: object) -> None:
        _budget.reset(self._token)


def size_of(value: object) -> int:
    """Characters of a text, items of a collection; 0 for anything else."""
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        return len(value)
    return 0


def too_large(value: object) -> bool:
    """Whether a text or collection is over the size limit."""
    return size_of(value) > limits.current().max_size


_UNSIZED = frozenset({int, float, bool, type(None)})


def checked(value: Any, what: str) -> Any:
    """`value`, or ExpressionError naming `what` when it is over the size limit."""
    if type(value) in _UNSIZED:  # most results: arithmetic and comparisons
        return value
    size = size_of(value)
    current = limits.current()
    if size > current.max_size:
        raise ExpressionError(current.size_error(what, size))
    return value


def _refuse_in_advance(size: int, what: str) -> None:
    """Refuse an operation whose result would be `size` long, before it allocates."""
    current = limits.current()
    if size > current.max_size:
        raise ExpressionError(current.size_error(what, size, made=False))


def _refuse_large(value: object, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WIDTH:
        raise ExpressionError(f"{what}: {value} is more than the limit of {MAX_WIDTH}")


# Widths and precisions in %-formats ("%10000000s") and {}-formats ("{:>999999}").
_PERCENT_SPEC = re.compile(r"%[-#0 +]*(\d*)(?:\.(\d*))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*?:([^{}]*)\}")


def _check_format(fmt: str) -> None:
    numbers = [number for match in _PERCENT_SPEC.finditer(fmt) for number in match.groups()]
    for match in _BRACE_SPEC.finditer(fmt):
        numbers.extend(re.findall(r"\d+", match.group(1)))
    for number in numbers:
        if number and int(number) > MAX_WIDTH:
            raise ExpressionError(f"a format width of {number} is over the limit of {MAX_WIDTH}")


def _check_replace(text: object, old: object, new: object) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str) and old:
        size = len(text) + text.count(old) * (len(new) - len(old))
        if size > limits.current().max_size:
            raise ExpressionError(
                f"replace() would make more than {limits.current().max_size} characters "
                "(FLOWDECK_EXPRESSION_MAX_SIZE)"
            )


def _check_join(items: object, separator: object, what: str) -> None:
    """A join's length is known before it is made: refuse it then, not after."""
    if isinstance(items, list | tuple) and isinstance(separator, str):
        size = len(separator) * max(0, len(items) - 1)
        size += sum(len(item) if isinstance(item, str) else 0 for item in items)
        _refuse_in_advance(size, what)


def _capped_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise ExpressionError(f"range() of {len(numbers)} items is over the limit of {MAX_RANGE}")
    return numbers


class _Namespace(Namespace):
    """`namespace()`, whose assignments (`{% set ns.s = ... %}`) are measured: a value
    kept in a namespace across loop iterations is how an expression grows without end."""

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, checked(value, f"the assignment to namespace key {name!r}"))


# --- filters ------------------------------------------------------------------------------

# Filters that are slow on long text whatever their arguments.
_SLOW_ON_LONG_TEXT = frozenset({"wordwrap", "truncate", "urlize", "striptags"})


def _guard_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps jinja_pass_arg, which tells Jinja what to pass first
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _spend()
        for value in (*args, *kwargs.values()):
            _refuse_large(value, f"the {name} filter")
        # Leave out what Jinja passes first to some filters (context, environment...).
        values = [
            arg
            for arg in args
            if not isinstance(arg, Context | EvalContext | ImmutableSandboxedEnvironment)
        ]
        if name in _SLOW_ON_LONG_TEXT and values and size_of(values[0]) > MAX_SLOW_FILTER_INPUT:
            raise ExpressionError(
                f"the {name} filter was given {size_of(values[0])} characters; it takes at "
                f"most {MAX_SLOW_FILTER_INPUT}"
            )
        if name == "format" and values and isinstance(values[0], str):
            _check_format(values[0])
        elif name == "replace" and len(values) >= 3:
            _check_replace(values[0], values[1], values[2])
        elif name == "join" and values:
            separator = values[1] if len(values) > 1 else kwargs.get("d", "")
            _check_join(values[0], separator, "the join filter")
        elif name == "indent" and values and isinstance(values[0], str):
            width = values[1] if len(values) > 1 else kwargs.get("width", 4)
            if isinstance(width, int):
                _refuse_in_advance(len(values[0]) * (1 + width), "the indent filter")
        return checked(function(*args, **kwargs), f"the {name} filter")

    return guarded


# --- the environment ----------------------------------------------------------------------


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, but `a ~ b` goes through the environment like the other
    operators do, so that concatenation is measured before it allocates."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.flowdeck_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus limits on the operators and calls that can blow up."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Undefined):
            # `cycler.__init__` should say that cycler is undefined, not that __init__ of
            # an Undefined is unsafe.
            return obj._fail_with_undefined_error()
        if isinstance(obj, Mapping) and attribute in obj:
            # Data first: `body.items` is the key "items" of a JSON body, not dict.items.
            return obj[attribute]
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Undefined):
            return obj._fail_with_undefined_error()
        return super().getitem(obj, argument)

    def flowdeck_concat(self, parts: tuple[Any, ...]) -> str:
        """`a ~ b ~ c`: the text of each part, refused as soon as the total is too long."""
        _spend()
        texts = [str(part) for part in parts]
        _refuse_in_advance(sum(len(text) for text in texts), "the ~ operator")
        return "".join(texts)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        # Not counted as an operation: one operator does not loop, and the loops and calls
        # around it are counted (and timed).
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(count, int)
                    and len(sequence) * count > limits.current().max_size
                ):
                    raise ExpressionError(
                        f"repeating a value {count} times is over the limit of "
                        f"{limits.current().max_size} (FLOWDECK_EXPRESSION_MAX_SIZE)"
                    )
        elif operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                _refuse_in_advance(len(left) + len(right), "the + operator")
        elif operator == "**" and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            if isinstance(left, int) and abs(left) > 1:
                raise ExpressionError(f"an exponent of {right} is over the limit of {MAX_EXPONENT}")
        elif operator == "%" and isinstance(left, str):
            _check_format(left)
            for value in right if isinstance(right, tuple) else (right,):
                _refuse_large(value, "a %-format")  # widths given as "%*s"
        result = super().call_binop(context, operator, left, right)
        return checked(result, f"the {operator} operator")

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        # str.format arrives wrapped by the sandbox; the original is kept in __wrapped__.
        target = getattr(obj, "__wrapped__", obj)
        owner = getattr(target, "__self__", None)
        if isinstance(owner, str):
            name = getattr(target, "__name__", "method")
            for value in (*args, *kwargs.values()):
                _refuse_large(value, f"str.{name}()")
            if name in ("format", "format_map"):
                _check_format(owner)
            elif name == "replace" and len(args) >= 2:
                _check_replace(owner, args[0], args[1])
            elif name == "join" and args:
                _check_join(args[0], owner, "str.join()")
            elif name == "expandtabs":
                tabsize = args[0] if args else kwargs.get("tabsize", 8)
                if isinstance(tabsize, int):
                    _refuse_in_advance(len(owner) + owner.count("\t") * tabsize, "str.expandtabs()")
        _spend()
        return checked(super().call(context, obj, *args, **kwargs), "a call")


def make_environment() -> ImmutableSandboxedEnvironment:
    """A new sandboxed environment as Flowdeck evaluates expressions in.

    Immutable sandbox, StrictUndefined (with messages that list what was there), no
    autoescaping (results are data, not HTML), and every value built measured.
    """
    environment = _Sandbox(undefined=_Undefined, autoescape=False)
    for name in set(environment.globals) - GLOBAL_NAMES:
        del environment.globals[name]
    environment.globals["range"] = _capped_range
    environment.globals["namespace"] = _Namespace
    for name, function in list(environment.filters.items()):
        environment.filters[name] = _guard_filter(name, function)
    return environment

"""The sandbox expressions run in, and the limits that keep one from holding a worker.

Jinja2's ImmutableSandboxedEnvironment refuses `_`-prefixed and internal attributes and
methods that mutate. On top of it: StrictUndefined with messages that list what was
there; no globals but range, dict and namespace; range(), repetition, powers, format
widths and sized filters capped; and a budget of loop iterations and calls per render,
because nested loops and recursive macros produce no output for the output cap to stop.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from jinja2 import StrictUndefined
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing, object_type_repr

from flowdeck.errors import FlowdeckError

MAX_OUTPUT = 1_000_000  # characters of text, or items of a list, one expression may produce
MAX_RANGE = 10_000  # items range() may produce; loops over more are almost always mistakes
MAX_EXPONENT = 1_000  # 10 ** 10 ** 10 would hold a worker for minutes
_MAX_WIDTH = 100_000  # widths and counts given to padding/chunking filters and methods
# Loop iterations plus calls while one string is rendered: nested loops and recursive
# macros produce no output for the output cap to stop, so they are counted instead.
MAX_OPERATIONS = 500_000
LOOP_GUARD = "flowdeck_loop_guard"  # the name every {% for %} iterable is wrapped in

# Jinja's globals that stay: the others (lipsum, cycler, joiner) are of no use here and
# only widen what an expression can reach.
GLOBAL_NAMES = frozenset({"range", "dict", "namespace"})


class ExpressionError(FlowdeckError):
    """An expression does not parse, or failed while it was evaluated."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.message = message
        self.line = line
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


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_OPERATIONS


_budget: ContextVar[_Budget | None] = ContextVar("flowdeck_expression_budget", default=None)


def _spend() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.left -= 1
        if budget.left < 0:
            raise ExpressionError(
                f"the expression did more than {MAX_OPERATIONS} loop iterations and calls"
            )


def guarded_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    """`iterable`, counting each item against the render's budget (see LOOP_GUARD)."""
    for item in iterable:
        _spend()
        yield item


@contextlib.contextmanager
def operation_budget() -> Iterator[None]:
    """Count loop iterations and calls made inside the block against MAX_OPERATIONS."""
    token = _budget.set(_Budget())
    try:
        yield
    finally:
        _budget.reset(token)


def too_large(value: object) -> bool:
    """Whether a text or collection is over MAX_OUTPUT characters or items."""
    return isinstance(value, str | bytes | list | tuple | dict | set) and len(value) > MAX_OUTPUT


def _refuse_large(value: object, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_WIDTH:
        raise ExpressionError(f"{what}: {value} is more than the limit of {_MAX_WIDTH}")


# Widths and precisions in %-formats ("%10000000s") and {}-formats ("{:>999999}").
_PERCENT_SPEC = re.compile(r"%[-#0 +]*(\d*)(?:\.(\d*))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*?:([^{}]*)\}")


def _check_format(fmt: str) -> None:
    numbers = [number for match in _PERCENT_SPEC.finditer(fmt) for number in match.groups()]
    for match in _BRACE_SPEC.finditer(fmt):
        numbers.extend(re.findall(r"\d+", match.group(1)))
    for number in numbers:
        if number and int(number) > _MAX_WIDTH:
            raise ExpressionError(f"a format width of {number} is over the limit of {_MAX_WIDTH}")


def _check_replace(text: object, old: object, new: object) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str) and old:
        if len(text) + text.count(old) * (len(new) - len(old)) > MAX_OUTPUT:
            raise ExpressionError(f"replace() would make more than {MAX_OUTPUT} characters")


def _capped_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise ExpressionError(f"range() of {len(numbers)} items is over the limit of {MAX_RANGE}")
    return numbers


# Filters that allocate in proportion to a number they are given.
_SIZED_FILTERS = ("center", "indent", "wordwrap", "truncate", "batch", "slice", "format", "replace")


def _guard_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps jinja_pass_arg, which tells Jinja what to pass first
    def guarded(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            _refuse_large(value, f"the {name} filter")
        # Leave out what Jinja passes first to some filters (context, environment...).
        values = [
            arg
            for arg in args
            if not isinstance(arg, Context | EvalContext | ImmutableSandboxedEnvironment)
        ]
        if name == "format" and values and isinstance(values[0], str):
            _check_format(values[0])
        if name == "replace" and len(values) >= 3:
            _check_replace(values[0], values[1], values[2])
        result = function(*args, **kwargs)
        if too_large(result):
            raise ExpressionError(f"the {name} filter made a value over {MAX_OUTPUT} long")
        return result

    return guarded


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus limits on the operators and calls that can blow up."""

    intercepted_binops = frozenset({"*", "**", "%"})

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

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(count, int)
                    and len(sequence) * count > MAX_OUTPUT
                ):
                    raise ExpressionError(f"repeating a value {count} times is over the limit")
        elif operator == "**" and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            if isinstance(left, int) and abs(left) > 1:
                raise ExpressionError(f"an exponent of {right} is over the limit of {MAX_EXPONENT}")
        elif operator == "%" and isinstance(left, str):
            _check_format(left)
            for value in right if isinstance(right, tuple) else (right,):
                _refuse_large(value, "a %-format")  # widths given as "%*s"
        return super().call_binop(context, operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        # str.format arrives wrapped by the sandbox; the original is kept in __wrapped__.
        target = getattr(obj, "__wrapped__", obj)
        if isinstance(getattr(target, "__self__", None), str):
            name = getattr(target, "__name__", "method")
            for value in (*args, *kwargs.values()):
                _refuse_large(value, f"str.{name}()")
            if name in ("format", "format_map"):
                _check_format(target.__self__)
            if name == "replace" and len(args) >= 2:
                _check_replace(target.__self__, args[0], args[1])
        _spend()
        result = super().call(context, obj, *args, **kwargs)
        if too_large(result):
            raise ExpressionError(f"a call made a value over {MAX_OUTPUT} long")
        return result


def make_environment() -> ImmutableSandboxedEnvironment:
    """A new sandboxed environment as Flowdeck evaluates expressions in.

    Immutable sandbox, StrictUndefined (with messages that list what was there), no
    autoescaping (results are data, not HTML), and capped range(), repetition, powers,
    format widths and filter results.
    """
    environment = _Sandbox(undefined=_Undefined, autoescape=False)
    for name in set(environment.globals) - GLOBAL_NAMES:
        del environment.globals[name]
    environment.globals["range"] = _capped_range
    for name in _SIZED_FILTERS:
        environment.filters[name] = _guard_filter(name, environment.filters[name])
    return environment

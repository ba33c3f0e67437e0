"""What every step of the grammar shares: the strict base model, the field types that
take an expression in place of a value (durations, conditions, names), retry, and
`StepBase`. The step types themselves are in `steps_schema`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from flowdeck.definition.durations import parse_duration
from flowdeck.definition.expressions import is_expression

if TYPE_CHECKING:  # the union of every step type, defined with them
    from flowdeck.definition.steps_schema import Step

ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

# The fields of a step's result, `steps.<id>.<field>`.
STEP_RESULT_FIELDS = ("attempts", "elapsed_ms", "error", "output", "status")


class StrictModel(BaseModel):
    """Unknown keys are errors everywhere: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- value types ------------------------------------------------------------------------


def _keep_expressions(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    return value if is_expression(value) else handler(value)


_T = TypeVar("_T")
if TYPE_CHECKING:
    # What the engine sees: the literal type, or an expression string to render first.
    OrExpr: TypeAlias = _T | str
else:

    class OrExpr:
        """`OrExpr[int]`: an int, or an expression string that computes one at run time."""

        def __class_getitem__(cls, item: Any) -> Any:
            return Annotated[item, WrapValidator(_keep_expressions)]


def _expression(value: Any) -> str | bool:
    if isinstance(value, bool):
        return value
    if is_expression(value):
        return str(value)
    if isinstance(value, str) and value.strip():
        raise ValueError(
            f"expected an expression in {{{{ }}}}, got {value!r} "
            f"(did you mean '{{{{ {value.strip()} }}}}'?)"
        )
    raise ValueError(f"expected an expression like '{{{{ inputs.enabled }}}}', got {value!r}")


# A condition: an expression, or true/false written out.
Condition = Annotated[str | bool, PlainValidator(_expression, json_schema_input_type=str | bool)]


def _duration(value: Any, *, positive: bool) -> str | int | float:
    if is_expression(value):
        return str(value)
    if not isinstance(value, str | int | float):
        raise ValueError(f"expected a duration such as '10s' or '5m', got {value!r}")
    duration = parse_duration(value)  # its ValueError is already a sentence
    if positive and not duration:
        raise ValueError(f"{value!r} is zero; give a duration longer than 0")
    return value


def _any_duration(value: Any) -> str | int | float:
    return _duration(value, positive=False)


def _positive_duration(value: Any) -> str | int | float:
    return _duration(value, positive=True)


def _literal(value: Any) -> Any:
    if is_expression(value):
        raise ValueError(
            "must be written out, such as '30m', not computed: the execution's deadline is "
            "set when it starts, before any expression is evaluated"
        )
    return value


def _literal_timeout(value: Any) -> str | int | float:
    return _duration(_literal(value), positive=True)


_DURATION_JSON = str | int | float
# A duration as written ("10s", 30): the engine parses it with parse_duration.
Duration = Annotated[
    str | int | float, PlainValidator(_any_duration, json_schema_input_type=_DURATION_JSON)
]
# A timeout: a duration longer than zero.
Timeout = Annotated[
    str | int | float, PlainValidator(_positive_duration, json_schema_input_type=_DURATION_JSON)
]
# The same, where no expression may stand: the execution's timeout is read when the
# execution is started, by the API, which evaluates no user expression.
LiteralTimeout = Annotated[
    str | int | float, PlainValidator(_literal_timeout, json_schema_input_type=_DURATION_JSON)
]

StepId = Annotated[str, Field(pattern=ID_PATTERN)]
Name = Annotated[str, Field(pattern=ID_PATTERN)]


# --- the fields every step has --------------------------------------------------------------


class Retry(StrictModel):
    """How often a failed step runs again: `attempts` counts the first run too."""

    attempts: int = Field(default=3, ge=1, le=100)
    backoff: Duration = "1s"  # the wait before the 2nd attempt, doubling after each
    max_backoff: Duration | None = None

    @model_validator(mode="after")
    def _backoff_within_max(self) -> Retry:
        literal = not (is_expression(self.backoff) or is_expression(self.max_backoff))
        if self.max_backoff is not None and literal:
            if parse_duration(self.backoff) > parse_duration(self.max_backoff):
                raise ValueError("'backoff' is longer than 'max_backoff'")
        return self


class StepBase(StrictModel):
    """What every step has; subclasses add `type` and their arguments."""

    id: StepId
    name: str | None = None
    when: Condition | None = None
    retry: Retry | None = None
    timeout: Timeout | None = None
    continue_on_error: bool = False

    def model_post_init(self, _context: Any, /) -> None:
        # `type` tells the steps apart: a step built in code must write it out too, even
        # though its value is the default (documents are dumped with exclude_unset).
        self.model_fields_set.add("type")

    def children(self) -> Iterator[tuple[str, list[Step]]]:
        """The step lists nested in this step, with their keys ("then", "branches.left")."""
        return iter(())


# --- action steps -----------------------------------------------------------------------------

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

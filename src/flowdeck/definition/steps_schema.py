"""The step grammar: one pydantic model per step type, and the typed registry of them.

Action steps take their arguments under `with`; control-flow steps (branch, foreach,
parallel) keep their structure at the top level. Wherever a value is computed at run
time, an expression string is accepted in its place (see `OrExpr`); fields that shape the
execution itself (ids, concurrency, continue_on_error, idempotent, retry attempts) take
literals only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainValidator,
    model_validator,
)

from flowdeck.definition.expressions import is_expression
from flowdeck.definition.step_base import (
    Condition,
    Duration,
    HttpMethod,
    Name,
    OrExpr,
    StepBase,
    StrictModel,
    Timeout,
)


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) and not is_expression(value) else value


def _check_url(value: str) -> str:
    if not is_expression(value):
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


StatusCode = Annotated[int, Field(ge=100, le=599)]


class HttpArgs(StrictModel):
    method: OrExpr[Annotated[HttpMethod, BeforeValidator(_upper)]] = "GET"
    url: Annotated[str, AfterValidator(_check_url)]
    headers: OrExpr[dict[str, Any]] = Field(default_factory=dict)
    query: OrExpr[dict[str, Any]] = Field(default_factory=dict)
    json_: Any = Field(default=None, alias="json")
    body: str | None = None
    timeout: Timeout | None = None
    expect: OrExpr[list[OrExpr[StatusCode]]] | None = None

    @model_validator(mode="after")
    def _json_or_body(self) -> HttpArgs:
        if "json_" in self.model_fields_set and self.body is not None:
            raise ValueError("give either 'json' or 'body', not both")
        return self


class HttpStep(StepBase):
    """An HTTP request; output: {status, headers, body, elapsed_ms}."""

    type: Literal["http"] = "http"
    with_: HttpArgs = Field(alias="with")
    # Whether the request may be sent again after a worker died in the middle of it.
    # Unset: decided by the method (GET, HEAD, OPTIONS, PUT and DELETE are idempotent).
    idempotent: bool | None = None


class SetStep(StepBase):
    """Names computed from expressions; output: the evaluated mapping."""

    type: Literal["set"] = "set"
    with_: dict[str, Any] = Field(alias="with", min_length=1)


def _iso_time(value: Any) -> Any:
    if is_expression(value):
        return value
    if isinstance(value, date):  # YAML reads an unquoted time as a datetime
        return value.isoformat()
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return value
    raise ValueError(
        f"expected an expression or an ISO 8601 time such as '2030-01-31T09:00:00Z', got {value!r}"
    )


class DelayArgs(StrictModel):
    for_: Duration | None = Field(default=None, alias="for")
    until: Annotated[str, PlainValidator(_iso_time, json_schema_input_type=str)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DelayArgs:
        if (self.for_ is None) == (self.until is None):
            raise ValueError("give exactly one of 'for' (a duration) or 'until' (a time)")
        return self


class DelayStep(StepBase):
    """A durable pause: the execution sleeps in the database, not in a worker."""

    type: Literal["delay"] = "delay"
    with_: DelayArgs = Field(alias="with")


class WaitArgs(StrictModel):
    signal: Name
    timeout: Timeout | None = None


class WaitStep(StepBase):
    """Waits for a named signal sent through the API; output: the signal's payload."""

    type: Literal["wait"] = "wait"
    with_: WaitArgs = Field(alias="with")


class WorkflowArgs(StrictModel):
    workflow: str = Field(min_length=1)
    inputs: OrExpr[dict[str, Any]] = Field(default_factory=dict)


class WorkflowStep(StepBase):
    """Runs another workflow as a child execution; output: the child's outputs."""

    type: Literal["workflow"] = "workflow"
    with_: WorkflowArgs = Field(alias="with")


class LogArgs(StrictModel):
    message: str
    level: OrExpr[Literal["debug", "info", "warning", "error"]] = "info"


class LogStep(StepBase):
    type: Literal["log"] = "log"
    with_: LogArgs = Field(alias="with")


class FailArgs(StrictModel):
    message: str


class FailStep(StepBase):
    """Ends the execution as failed with a message."""

    type: Literal["fail"] = "fail"
    with_: FailArgs = Field(alias="with")


def _recipients(value: Any) -> str | list[str]:
    if is_expression(value):
        return str(value)
    addresses = [value] if isinstance(value, str) else value
    if not isinstance(addresses, list) or not addresses:
        raise ValueError(f"expected an address or a list of addresses, got {value!r}")
    for address in addresses:
        if not isinstance(address, str) or ("@" not in address and not is_expression(address)):
            raise ValueError(f"{address!r} is not an email address")
    return value  # type: ignore[no-any-return]  # checked above: a str or a list of str


Recipients = Annotated[
    str | list[str], PlainValidator(_recipients, json_schema_input_type=str | list[str])
]


class SmtpSettings(StrictModel):
    host: str
    port: OrExpr[Annotated[int, Field(ge=1, le=65535)]] | None = None
    security: OrExpr[Literal["starttls", "tls", "none"]] = "starttls"
    username: str | None = None
    password: str | None = None


class EmailArgs(StrictModel):
    to: Recipients
    cc: Recipients | None = None
    bcc: Recipients | None = None
    subject: str
    text: str | None = None
    html: str | None = None
    from_: str | None = Field(default=None, alias="from")
    smtp: OrExpr[SmtpSettings] | None = None

    @model_validator(mode="after")
    def _has_a_body(self) -> EmailArgs:
        if self.text is None and self.html is None:
            raise ValueError("give 'text', 'html' or both: the message needs a body")
        return self


class EmailStep(StepBase):
    """Sends an email over SMTP."""

    type: Literal["email"] = "email"
    with_: EmailArgs = Field(alias="with")


class ChatMessage(StrictModel):
    role: OrExpr[Literal["system", "user", "assistant"]]
    content: str


class LlmArgs(StrictModel):
    model: str = Field(min_length=1)
    prompt: str | None = None
    messages: OrExpr[list[ChatMessage]] | None = None
    temperature: OrExpr[Annotated[float, Field(ge=0, le=2)]] | None = None
    max_tokens: OrExpr[Annotated[int, Field(gt=0)]] | None = None
    json_: OrExpr[bool] = Field(default=False, alias="json")
    base_url: str | None = None
    api_key: str | None = None
    timeout: Timeout | None = None

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> LlmArgs:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' (text) or 'messages' (a chat)")
        return self


class LlmStep(StepBase):
    """A chat completion from an OpenAI-compatible endpoint."""

    type: Literal["llm"] = "llm"
    with_: LlmArgs = Field(alias="with")


# --- control-flow steps -----------------------------------------------------------------------


class BranchStep(StepBase):
    """Runs `then` when `if` holds, else `else`; output: {taken: then|else}."""

    type: Literal["branch"] = "branch"
    if_: Condition = Field(alias="if")
    then: list[Step] = Field(default_factory=list)
    else_: list[Step] = Field(default_factory=list, alias="else")

    @model_validator(mode="after")
    def _has_steps(self) -> BranchStep:
        if not self.then and not self.else_:
            raise ValueError("a branch step needs steps under 'then', 'else' or both")
        return self

    def children(self) -> Iterator[tuple[str, list[Step]]]:
        yield "then", self.then
        yield "else", self.else_


def _items(value: Any) -> str | list[Any]:
    if isinstance(value, list) or is_expression(value):
        return value  # type: ignore[no-any-return]  # a list, or an expression string
    raise ValueError(
        f"expected a list or an expression such as '{{{{ inputs.urls }}}}', got {value!r}"
    )


class ForeachStep(StepBase):
    """Runs `steps` for each item (`item`, `loop.index`); output: the list of results."""

    type: Literal["foreach"] = "foreach"
    items: Annotated[
        str | list[Any], PlainValidator(_items, json_schema_input_type=str | list[Any])
    ]
    concurrency: int = Field(default=1, ge=1, le=64)
    steps: list[Step] = Field(min_length=1)

    def children(self) -> Iterator[tuple[str, list[Step]]]:
        yield "steps", self.steps


class ParallelStep(StepBase):
    """Runs its branches at the same time; output: {branch name: its result}."""

    type: Literal["parallel"] = "parallel"
    branches: dict[Name, Annotated[list[Step], Field(min_length=1)]] = Field(min_length=1)

    def children(self) -> Iterator[tuple[str, list[Step]]]:
        for name, steps in self.branches.items():
            yield f"branches.{name}", steps


# --- the registry ---------------------------------------------------------------------------------

Step = Annotated[
    HttpStep
    | SetStep
    | BranchStep
    | ForeachStep
    | ParallelStep
    | DelayStep
    | WaitStep
    | WorkflowStep
    | LogStep
    | FailStep
    | EmailStep
    | LlmStep,
    Field(discriminator="type"),
]

# The one registry of step types, in name order; each model's `type` literal is its key.
STEP_TYPES: Mapping[str, type[StepBase]] = {
    "branch": BranchStep,
    "delay": DelayStep,
    "email": EmailStep,
    "fail": FailStep,
    "foreach": ForeachStep,
    "http": HttpStep,
    "llm": LlmStep,
    "log": LogStep,
    "parallel": ParallelStep,
    "set": SetStep,
    "wait": WaitStep,
    "workflow": WorkflowStep,
}

for _model in (BranchStep, ForeachStep, ParallelStep):
    _model.model_rebuild()

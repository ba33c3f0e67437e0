"""A server-rendered flowchart of a workflow definition's steps.

The diagram is nested HTML lists, styled by `static/diagram.css`: a sequence of steps
is an `<ol class="fd-seq">` of `<li class="fd-step">` boxes, and a control-flow step
holds its nested sequences (side-by-side lanes for branch and parallel, a framed body
for foreach). Definitions reach here already validated, but a page must never fail
because of one odd step, so every shape is read defensively: anything unexpected is
drawn as a plain box.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from markupsafe import Markup

__all__ = ["render_diagram"]

SUMMARY_MAX = 80
# Validated definitions nest a few levels at most; the cap stops a hand-made or
# self-referencing (YAML alias) document from ending in RecursionError.
MAX_DEPTH = 32

# A status becomes part of a class name, so only a plain word is accepted.
_STATUS = re.compile(r"[a-z][a-z_-]*")
# A value that is exactly one `{{ ... }}` reads better without the braces ("if x > 0").
_ONE_EXPRESSION = re.compile(r"\s*\{\{\s*((?:(?!\{\{|\}\}).)*?)\s*\}\}\s*", re.DOTALL)
_SPACES = re.compile(r"\s+")

Statuses = Mapping[str, str]


def _text(value: object) -> str:
    """One line of text for any value: strings as written, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):  # odd keys, cycles
            text = repr(value)
    return _SPACES.sub(" ", text).strip()


def _expression(value: object) -> str:
    text = _text(value)
    match = _ONE_EXPRESSION.fullmatch(text)
    return match.group(1) if match else text


def _clip(text: str) -> str:
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"


def _args(step: Mapping[str, Any]) -> Mapping[str, Any]:
    args = step.get("with")
    return args if isinstance(args, Mapping) else {}


def _as_steps(value: object) -> list[object]:
    """The steps of a nested sequence; a lone mapping counts as one step, anything else none."""
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, Mapping):
        return [value]
    return []


# One summary function per step type: the line under the step's id saying what it does.


def _argument(prefix: str, key: str) -> Callable[[Mapping[str, Any]], str]:
    """A summary that is one argument, after a word saying what it is."""
    return lambda step: f"{prefix} {_expression(_args(step).get(key))}".strip()


def _http(step: Mapping[str, Any]) -> str:
    args = _args(step)
    method = _text(args.get("method")) or "GET"
    if "{" not in method:  # an expression stays as written
        method = method.upper()
    return f"{method} {_text(args.get('url'))}".strip()


def _set(step: Mapping[str, Any]) -> str:
    return ", ".join(str(key) for key in _args(step))


def _delay(step: Mapping[str, Any]) -> str:
    args = _args(step)
    if "until" in args:
        return f"until {_expression(args['until'])}"
    return f"for {_expression(args.get('for'))}".strip()


def _wait(step: Mapping[str, Any]) -> str:
    args = _args(step)
    summary = f"signal {_text(args.get('signal'))}".strip()
    if args.get("timeout") is not None:
        summary += f" · up to {_expression(args['timeout'])}"
    return summary


def _email(step: Mapping[str, Any]) -> str:
    args = _args(step)
    to = args.get("to")
    recipients = ", ".join(_text(x) for x in to) if isinstance(to, list) else _expression(to)
    return f"to {recipients} · {_text(args.get('subject'))}"


def _log(step: Mapping[str, Any]) -> str:
    args = _args(step)
    level = _text(args.get("level"))
    message = _text(args.get("message"))
    return f"{level}: {message}" if level and level != "info" else message


def _branch(step: Mapping[str, Any]) -> str:
    return f"if {_expression(step.get('if'))}"


def _foreach(step: Mapping[str, Any]) -> str:
    concurrency = step.get("concurrency", 1)
    pace = "one at a time" if concurrency == 1 else f"{_text(concurrency)} at a time"
    return f"for each item in {_expression(step.get('items'))} · {pace}"


def _parallel(step: Mapping[str, Any]) -> str:
    branches = step.get("branches")
    names = [str(name) for name in branches] if isinstance(branches, Mapping) else []
    return f"{len(names)} branches at the same time: {', '.join(names)}" if names else ""


_SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "http": _http,
    "set": _set,
    "branch": _branch,
    "foreach": _foreach,
    "parallel": _parallel,
    "delay": _delay,
    "wait": _wait,
    "workflow": _argument("run", "workflow"),
    "log": _log,
    "fail": _argument("", "message"),
    "email": _email,
    "llm": _argument("model", "model"),
}


# The nested sequences of control-flow steps, drawn below their box.


def _lane(label: str, steps: object, statuses: Statuses, depth: int) -> Markup:
    return Markup(
        '<div class="fd-lane" data-lane="{0}"><div class="fd-lane-label">{0}</div>{1}</div>'
    ).format(label, _sequence(steps, statuses, depth, "fd-seq"))


def _branch_body(step: Mapping[str, Any], statuses: Statuses, depth: int) -> Markup:
    lanes = (_lane(part, step.get(part), statuses, depth) for part in ("then", "else"))
    return Markup('<div class="fd-lanes">{}</div>').format(Markup().join(lanes))


def _parallel_body(step: Mapping[str, Any], statuses: Statuses, depth: int) -> Markup:
    branches = step.get("branches")
    if not isinstance(branches, Mapping):
        return Markup()
    lanes = (_lane(str(name), steps, statuses, depth) for name, steps in branches.items())
    return Markup('<div class="fd-lanes">{}</div>').format(Markup().join(lanes))


def _foreach_body(step: Mapping[str, Any], statuses: Statuses, depth: int) -> Markup:
    return _sequence(step.get("steps"), statuses, depth, "fd-seq fd-loop-body")


_BODIES: dict[str, Callable[[Mapping[str, Any], Statuses, int], Markup]] = {
    "branch": _branch_body,
    "parallel": _parallel_body,
    "foreach": _foreach_body,
}


def _markers(step: Mapping[str, Any]) -> Markup:
    markers = Markup()
    when = step.get("when")
    if when is not None and when is not True:  # `when: true` is no condition at all
        markers += Markup(
            '<span class="fd-marker fd-marker-when" title="when: {}">{}</span>'
        ).format(_text(when), "conditional")
    if "retry" in step:
        retry = step["retry"]
        attempts = retry.get("attempts", 3) if isinstance(retry, Mapping) else None
        label = "retry" if attempts is None else f"retry: {_text(attempts)} attempts"
        markers += Markup('<span class="fd-marker fd-marker-retry">{}</span>').format(label)
    if step.get("continue_on_error") is True:
        markers += Markup('<span class="fd-marker fd-marker-continue">continues on error</span>')
    return markers


def _step(raw: object, statuses: Statuses, depth: int) -> Markup:
    step: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    step_id = _text(step.get("id"))
    kind = step.get("type")
    summarize = _SUMMARIES.get(kind) if isinstance(kind, str) else None
    nested = _BODIES.get(kind) if isinstance(kind, str) else None
    classes = ["fd-step", f"fd-type-{kind}" if summarize else "fd-type-unknown"]
    status = statuses.get(step_id) if step_id else None
    if not (isinstance(status, str) and _STATUS.fullmatch(status)):
        status = None
    else:
        classes.append(f"status-{status}")
    attributes = Markup(' class="{}"').format(" ".join(classes))
    if step_id:
        attributes += Markup(' id="fd-step-{0}" data-step-id="{0}"').format(step_id)
    # A value that is not a step at all is shown as it is, so the odd entry can be found.
    summary = summarize(step) if summarize else _text(raw) if raw is not step else ""
    box = Markup('<span class="fd-id">{}</span><span class="fd-badge">{}</span>{}').format(
        step_id or "?", _text(kind) or "?", _markers(step)
    )
    if status:
        box += Markup('<span class="fd-status">{}</span>').format(status)
    box = Markup('<div class="fd-head">{}</div>').format(box)
    name = step.get("name")
    if isinstance(name, str) and name.strip():
        box += Markup('<div class="fd-name">{}</div>').format(name)
    if summary:
        box += Markup('<div class="fd-summary" title="{}">{}</div>').format(summary, _clip(summary))
    body = nested(step, statuses, depth + 1) if nested else Markup()
    return Markup('<li{}><div class="fd-box">{}</div>{}</li>').format(attributes, box, body)


def _sequence(steps: object, statuses: Statuses, depth: int, css: str) -> Markup:
    if depth > MAX_DEPTH:
        items = Markup('<li class="fd-empty">nested too deep to draw</li>')
    elif entries := _as_steps(steps):
        items = Markup().join(_step(entry, statuses, depth) for entry in entries)
    else:
        items = Markup('<li class="fd-empty">nothing</li>')
    return Markup('<ol class="{}">{}</ol>').format(css, items)


def render_diagram(
    steps: Sequence[Mapping[str, Any]], *, statuses: Mapping[str, str] | None = None
) -> Markup:
    """Draw a definition's `steps` as an HTML flowchart, styled by static/diagram.css.

    `statuses` maps step ids to execution statuses; each such box gets the class
    `status-<status>`. Every piece of the definition's text is escaped, and a shape the
    validator would refuse is drawn as a plain box rather than raising.
    """
    return _sequence(steps, statuses or {}, 0, "fd-diagram fd-seq")

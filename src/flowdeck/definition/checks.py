"""The checks that need the whole document: unique ids, expressions, references.

They run on the document as written (mappings and lists), not on the validated models,
so that they still report when some other part of the document has the wrong shape: a
person fixing a definition sees every problem at once.

What an expression may use (DESIGN §4): a step may refer to `steps.X` only when X has
finished before it starts, i.e. X is an earlier sibling, or an earlier sibling of one of
the control-flow steps that contain it. Steps nested in a branch, foreach or parallel
step are not visible outside it (only that step's own result is), branches of a parallel
step cannot see each other, and a step cannot see itself or the steps that contain it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flowdeck.definition.expressions import (
    CONTEXT_NAMES,
    GLOBAL_NAMES,
    ExpressionError,
    is_expression,
    parse_expression,
    reference_paths,
)
from flowdeck.definition.issues import Issue, did_you_mean, join_path
from flowdeck.definition.step_base import STEP_RESULT_FIELDS
from flowdeck.definition.steps_schema import STEP_TYPES

# Keys holding nested steps, per control-flow type: they are walked as steps, not values.
NESTED_KEYS: Mapping[str, frozenset[str]] = {
    "branch": frozenset({"then", "else"}),
    "foreach": frozenset({"steps"}),
    "parallel": frozenset({"branches"}),
}
_NOT_EVALUATED = frozenset({"id", "type", "name"})
_ANY_NESTED = frozenset().union(*NESTED_KEYS.values())

Chain = tuple[tuple[str, int], ...]  # (path of the list, index in it), outermost first


@dataclass(frozen=True)
class _Step:
    path: str
    id: str | None
    type: str | None
    chain: Chain
    in_foreach: bool  # the step is in the body of a foreach (item and loop exist)
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class _Scope:
    """Where an expression is evaluated."""

    chain: Chain | None  # None: before any step (conditions, the execution's timeout)
    in_foreach: bool = False
    before_steps: str = ""  # why `steps` cannot be used here, when chain is None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _walk_raw_steps(
    steps: object, list_path: str = "steps", chain: Chain = (), in_foreach: bool = False
) -> Iterator[_Step]:
    """Every step mapping of a document, nested ones included, in document order."""
    if not isinstance(steps, list):
        return
    for index, raw in enumerate(steps):
        if not isinstance(raw, Mapping):
            continue
        path = join_path(list_path, index)
        here = (*chain, (list_path, index))
        step_type = _text(raw.get("type"))
        yield _Step(path, _text(raw.get("id")), step_type, here, in_foreach, raw)
        inner_foreach = in_foreach or step_type == "foreach"
        for nested_path, nested in _nested_lists(step_type, raw, path):
            yield from _walk_raw_steps(nested, nested_path, here, inner_foreach)


def steps_by_id(steps: object) -> dict[str, Mapping[str, Any]]:
    """Every step mapping of a document that has an id, nested ones included, by id."""
    return {step.id: step.raw for step in _walk_raw_steps(steps) if step.id is not None}


def _nested_lists(
    step_type: str | None, raw: Mapping[str, Any], path: str
) -> Iterator[tuple[str, object]]:
    for key in sorted(NESTED_KEYS.get(step_type or "", ())):
        if key == "branches":
            branches = raw.get(key)
            if isinstance(branches, Mapping):
                for name, steps in branches.items():
                    if isinstance(name, str):
                        yield join_path(path, key, name), steps
        else:
            yield join_path(path, key), raw.get(key)


def static_issues(document: Mapping[str, Any]) -> list[Issue]:
    """Duplicate ids, expressions that do not parse, and references that cannot work."""
    steps = list(_walk_raw_steps(document.get("steps")))
    issues: list[Issue] = []
    by_id: dict[str, _Step] = {}
    for step in steps:
        if step.id is None:
            continue
        first = by_id.setdefault(step.id, step)
        if first is not step:
            issues.append(
                Issue(
                    join_path(step.path, "id"),
                    f"duplicate step id {step.id!r} (first used at {first.path}.id)",
                )
            )
    inputs = document.get("inputs") or {}
    declared = {str(name) for name in inputs} if isinstance(inputs, Mapping) else None
    checker = _Checker(by_id, {step.chain: step for step in steps}, declared, issues)

    conditions = document.get("conditions")
    if isinstance(conditions, list):
        why = "conditions are checked before any step runs, so they cannot use steps"
        for index, condition in enumerate(conditions):
            checker.value(condition, join_path("conditions", index), _Scope(None, before_steps=why))
    why = "the execution's timeout is set before any step runs, so it cannot use steps"
    checker.value(document.get("timeout"), "timeout", _Scope(None, before_steps=why))
    for step in steps:
        skip = NESTED_KEYS.get(step.type or "", _ANY_NESTED if step.type not in STEP_TYPES else ())
        scope = _Scope(step.chain, step.in_foreach)
        for key, value in step.raw.items():
            if key not in _NOT_EVALUATED and key not in skip:
                checker.value(value, join_path(step.path, str(key)), scope)
    top = document.get("steps")
    after_all: Chain = (("steps", len(top) if isinstance(top, list) else 0),)
    outputs = document.get("outputs")
    if isinstance(outputs, Mapping):
        for name, value in outputs.items():
            checker.value(value, join_path("outputs", str(name)), _Scope(after_all))
    return issues


@dataclass
class _Checker:
    by_id: dict[str, _Step]
    by_chain: dict[Chain, _Step]
    declared: set[str] | None  # None when `inputs` is malformed: that is reported already
    issues: list[Issue]

    def value(self, value: object, path: str, scope: _Scope) -> None:
        """Check every expression in `value`, however deep, reporting at its own path."""
        if isinstance(value, Mapping):
            for key, item in value.items():
                self.value(item, join_path(path, str(key)), scope)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.value(item, join_path(path, index), scope)
        elif is_expression(value):
            self.expression(str(value), path, scope)

    def expression(self, text: str, path: str, scope: _Scope) -> None:
        try:
            tree = parse_expression(text)
        except ExpressionError as exc:
            self.issues.append(Issue(path, f"the expression does not parse: {exc}"))
            return
        for reference in sorted(reference_paths(tree)):
            message = self.reference(reference, scope)
            if message:
                self.issues.append(Issue(path, message))

    def reference(self, reference: tuple[str, ...], scope: _Scope) -> str | None:
        root, rest = reference[0], reference[1:]
        if root in GLOBAL_NAMES:
            return None
        if root in ("item", "loop") and root in CONTEXT_NAMES:
            if scope.in_foreach:
                return None
            return f"{root!r} is only defined inside the steps of a foreach step"
        if root not in CONTEXT_NAMES:
            names = set(CONTEXT_NAMES | GLOBAL_NAMES) - (
                set() if scope.in_foreach else {"item", "loop"}
            )
            hint = did_you_mean(root, names)
            if hint:
                return f"unknown name {root!r} in expression{hint}"
            listed = ", ".join(sorted(CONTEXT_NAMES - {"item", "loop"}))
            return (
                f"unknown name {root!r} in expression; known names: {listed} "
                "(and item, loop inside a foreach)"
            )
        if root == "inputs" and rest and self.declared is not None and rest[0] not in self.declared:
            name = rest[0]
            declared = (
                f"declared: {', '.join(sorted(self.declared))}"
                if self.declared
                else "this definition declares no inputs"
            )
            hint = did_you_mean(name, self.declared)
            return f"inputs.{name} is not a declared input{hint}; {declared}"
        if root == "steps":
            return self.step_reference(rest, scope)
        return None

    def step_reference(self, rest: tuple[str, ...], scope: _Scope) -> str | None:
        if scope.chain is None:
            return scope.before_steps
        if not rest:
            return None  # `steps[name]` with a computed name: nothing to check statically
        name = rest[0]
        target = self.by_id.get(name)
        if target is None:
            return f"no step has the id {name!r}{did_you_mean(name, self.by_id)}"
        problem = self.visibility(target, scope.chain)
        if problem:
            return problem
        if len(rest) > 1 and rest[1] not in STEP_RESULT_FIELDS:
            field = rest[1]
            hint = (
                did_you_mean(field, STEP_RESULT_FIELDS)
                or f" (did you mean steps.{name}.output.{field}?)"
            )
            return (
                f"steps.{name} has no {field!r}{hint}; a step's result has "
                f"{', '.join(STEP_RESULT_FIELDS)}"
            )
        return None

    def visibility(self, target: _Step, me: Chain) -> str | None:
        """Why `target` has not finished when the code at `me` runs, or None when it has."""
        theirs = target.chain
        depth = 0
        while depth < min(len(me), len(theirs)) and me[depth] == theirs[depth]:
            depth += 1
        name = target.id
        if depth == len(theirs) == len(me):
            return (
                f"a step cannot use its own result (steps.{name}): "
                "it exists once the step has finished"
            )
        if depth == len(theirs):
            return f"step {name!r} contains this step, so its result does not exist yet here"
        if depth == len(me):
            return (
                f"step {name!r} is inside this step: its steps run after this step's own "
                "fields are evaluated"
            )
        (my_list, my_index), (their_list, their_index) = me[depth], theirs[depth]
        if my_list == their_list:
            if their_index > my_index:
                return (
                    f"step {name!r} (at {target.path}) runs after this one; "
                    "only earlier steps can be used"
                )
            if len(theirs) == depth + 1:
                return None
            box = self.by_chain[theirs[: depth + 1]]
            return (
                f"step {name!r} is inside {box.type} step {box.id!r} (at {box.path}) and cannot "
                f"be used outside it; use steps.{box.id} instead"
            )
        box = self.by_chain[me[:depth]]
        part = their_list[len(box.path) + 1 :].removeprefix("branches.")
        if box.type == "parallel":
            return (
                f"step {name!r} is in branch {part!r} of parallel step {box.id!r}, which runs "
                "at the same time as this one: branches cannot use each other's steps"
            )
        return (
            f"step {name!r} is in the {part!r} part of branch step {box.id!r}: only one part runs"
        )

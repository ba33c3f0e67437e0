"""The one registry of step types joins the definition's models with the engine's kinds
and handlers: every type the definition knows has a record, with its own model and the
one handler its kind runs."""

from __future__ import annotations

from flowdeck.definition.steps_schema import STEP_TYPES
from flowdeck.engine.steps import HANDLER_OF, REGISTRY, Kind


def test_every_step_type_has_one_record_with_its_model() -> None:
    assert list(REGISTRY) == list(STEP_TYPES)
    for name, record in REGISTRY.items():
        assert record.model is STEP_TYPES[name]
        assert record.name == name


def test_each_record_has_the_handler_of_its_kind_and_no_other() -> None:
    for record in REGISTRY.values():
        handlers = {"run": record.run, "enter": record.enter, "control": record.control}
        assert {key for key, handler in handlers.items() if handler} == {HANDLER_OF[record.kind]}


def test_the_kinds_are_the_ones_the_docs_name() -> None:
    by_kind = {kind: {name for name, r in REGISTRY.items() if r.kind is kind} for kind in Kind}
    assert by_kind == {
        Kind.LOCAL: {"set", "log", "fail"},
        Kind.ACTION: {"http", "email", "llm"},
        Kind.DURABLE: {"delay", "wait", "workflow"},
        Kind.CONTROL: {"branch", "foreach", "parallel"},
    }

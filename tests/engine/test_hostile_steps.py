"""Work that used to crash the worker instead of failing its step: a step whose code
raises, values that are not JSON, settings written as expressions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from flowdeck.engine.steps import REGISTRY
from flowdeck.engine.steps.base import StepRun
from tests.api.conftest import Api, error_of
from tests.engine.conftest import run, steps_of


async def _raising(args: Mapping[str, Any], run: StepRun) -> Any:  # noqa: ARG001 (a handler)
    raise KeyError("a bug in a step type")


def test_a_step_that_raises_fails_itself_and_the_worker_goes_on(
    engine: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(REGISTRY, "log", replace(REGISTRY["log"], run=_raising))
    ada = engine.person("ada")
    definition = {
        "steps": [
            {"id": "boom", "type": "log", "with": {"message": "x"}, "retry": {"attempts": 3}},
            {"id": "after", "type": "set", "with": {"v": 1}},
        ]
    }
    execution = run(engine, ada, definition)
    assert execution["status"] == "failed"
    step = steps_of(execution)["boom"]
    assert step["status"] == "failed"
    assert step["attempt"] == 1, "an unexpected exception is not retried"
    assert step["error"]["message"] == "the log step failed unexpectedly: 'a bug in a step type'"
    assert execution["error"]["step"] == "boom"
    assert "after" not in steps_of(execution)
    assert "step boom (log) failed unexpectedly" in caplog.text  # with its traceback
    assert any(record.exc_info for record in caplog.records)
    monkeypatch.undo()
    assert (
        run(engine, ada, {"steps": [{"id": "ok", "type": "log", "with": {"message": "x"}}]})[
            "status"
        ]
        == "succeeded"
    )


def test_a_value_that_is_not_json_fails_the_step_with_its_path_and_type(engine: Api) -> None:
    ada = engine.person("ada")
    definition = {
        "steps": [
            {"id": "a", "type": "set", "with": {"deep": {"list": [1, "{{ config.items() }}"]}}}
        ]
    }
    execution = run(engine, ada, definition)
    assert execution["status"] == "failed"
    error = steps_of(execution)["a"]["error"]
    assert error["path"] == "steps[0].with.deep.list[1]"
    assert error["message"] == "steps[0].with.deep.list[1]: a value of type dict_items is not JSON"


def test_outputs_that_are_not_json_fail_the_execution_with_the_path(engine: Api) -> None:
    ada = engine.person("ada")
    definition = {
        "steps": [{"id": "a", "type": "set", "with": {"v": 1}}],
        "outputs": {"keys": "{{ steps.a.output.keys }}", "view": "{{ config.values() }}"},
    }
    execution = run(engine, ada, definition)
    assert execution["status"] == "failed"
    assert execution["error"]["path"] in ("outputs.keys", "outputs.view")


def test_a_step_timeout_written_as_an_expression_is_evaluated(engine: Api) -> None:
    ada = engine.person("ada")
    inputs = {"t": {"type": "string"}}
    step = {"id": "a", "type": "set", "timeout": "{{ inputs.t }}", "with": {"v": 1}}
    definition = {"inputs": inputs, "steps": [step]}
    assert run(engine, ada, definition, inputs={"t": "5s"})["status"] == "succeeded"
    failed = run(engine, ada, definition, inputs={"t": "soon"})
    assert failed["status"] == "failed"
    error = steps_of(failed)["a"]["error"]
    assert error["path"] == "steps[0]"
    assert error["message"].startswith("steps[0]: timeout or retry: ")
    assert "'soon'" in error["message"]
    backoff = {**step, "timeout": "5s", "retry": {"attempts": 2, "backoff": "{{ 1/0 }}"}}
    broken = run(engine, ada, {"inputs": inputs, "steps": [backoff]}, inputs={"t": "x"})
    assert steps_of(broken)["a"]["error"]["path"] == "steps[0].retry.backoff"


def test_the_execution_timeout_must_be_written_out(engine: Api) -> None:
    ada = engine.person("ada")
    refused = engine.post(
        "/api/workflows",
        ada,
        json={
            "name": "t",
            "definition": {
                "inputs": {"t": {"type": "string"}},
                "timeout": "{{ inputs.t }}",
                "steps": [{"id": "a", "type": "set", "with": {"v": 1}}],
            },
        },
    )
    assert refused.status_code == 422
    [detail] = [d for d in error_of(refused)["details"] if d["path"] == "definition.timeout"]
    assert "must be written out" in detail["message"]

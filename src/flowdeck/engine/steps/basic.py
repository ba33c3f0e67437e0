"""The steps that need nothing outside the engine: set, log, fail."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowdeck.definition.steps_schema import LogArgs
from flowdeck.engine.steps.base import StepError, StepRun, field_default

LEVEL: str = field_default(LogArgs, "level")


async def run_set(args: Mapping[str, Any], run: StepRun) -> Any:  # noqa: ARG001 (one signature)
    """Output: the evaluated mapping."""
    return dict(args)


async def run_log(args: Mapping[str, Any], run: StepRun) -> Any:
    message = str(args.get("message", ""))
    level = str(args.get("level", LEVEL))
    run.log(message, level)
    return {"message": message, "level": level}


async def run_fail(args: Mapping[str, Any], run: StepRun) -> Any:  # noqa: ARG001
    raise StepError(str(args.get("message", "The workflow failed on purpose.")), retryable=False)

"""The runner's own cost per step, apart from the database: CPU time of one worker process.

    python -m bench.step_overhead [--steps 20] [--executions 2000] [--repeats 5]

Runs executions of an N-step and of a 1-step `set` workflow (each step evaluates two
expressions, as real steps do) through the engine's Runner with a store that records
nothing, and prints microseconds per execution and the per-step overhead: (N-step - 1-step)
/ (N - 1). The median of --repeats rounds. bench/engine.py measures the engine with
PostgreSQL, whose commits dominate and vary from run to run on a shared machine; this
isolates what a change to the runner, the expressions or the sandbox costs each step.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Mapping
from typing import Any

import httpx

from flowdeck.engine.outbound import OutboundPolicy
from flowdeck.engine.runner import Execution, Runner, StepResult


class _NoStore:
    """A step store that keeps nothing: the runner's cost without the database's."""

    async def begin(self, path: str, step: Mapping[str, Any], attempt: int) -> None:
        pass

    async def finish(self, path: str, step: Mapping[str, Any], result: StepResult) -> None:
        pass

    async def suspend(self, path: str, step: Mapping[str, Any], result: StepResult) -> None:
        pass

    async def take_signal(self, path: str, name: str) -> tuple[bool, Any]:
        raise NotImplementedError  # only `set` steps run here

    async def start_child(self, path: str, workflow: str, inputs: Mapping[str, Any]) -> str:
        raise NotImplementedError

    async def child(self, child_id: str) -> Any:
        raise NotImplementedError


def _definition(steps: int) -> dict[str, Any]:
    chain = [{"id": "s0", "type": "set", "with": {"n": "{{ inputs.n }}", "label": "first"}}]
    for index in range(1, steps):
        previous = f"s{index - 1}"
        chain.append(
            {
                "id": f"s{index}",
                "type": "set",
                "with": {
                    "n": f"{{{{ steps.{previous}.output.n + 1 }}}}",
                    "label": f"step {{{{ steps.{previous}.output.n }}}} of {steps}",
                },
            }
        )
    return {"steps": chain, "outputs": {"n": f"{{{{ steps.s{steps - 1}.output.n }}}}"}}


async def _round(definition: dict[str, Any], executions: int, http: httpx.AsyncClient) -> float:
    """CPU seconds per execution."""
    started = time.process_time()
    for number in range(executions):
        execution = Execution(
            id=f"bench-{number}",
            definition=definition,
            inputs={"n": number},
            config={},
            attempt=1,
            trigger="api",
            workflow={"id": None, "template_id": None},
        )
        outcome = await Runner(execution, {}, _NoStore(), http, OutboundPolicy()).run()
        assert outcome.status == "succeeded", outcome
    return (time.process_time() - started) / executions


async def main_async(args: argparse.Namespace) -> None:
    many, one = _definition(args.steps), _definition(1)
    async with httpx.AsyncClient() as http:
        await _round(many, 50, http)  # warm the expression caches
        rounds = [
            (await _round(many, args.executions, http), await _round(one, args.executions, http))
            for _ in range(args.repeats)
        ]
    many_us = statistics.median(round_[0] for round_ in rounds) * 1e6
    one_us = statistics.median(round_[1] for round_ in rounds) * 1e6
    per_step = (many_us - one_us) / (args.steps - 1)
    print(f"runner CPU, median of {args.repeats} rounds of {args.executions} executions:")
    print(f"  {args.steps}-step set workflow: {many_us:.0f} us per execution")
    print(f"  1-step set workflow: {one_us:.0f} us per execution")
    print(f"  per-step overhead: {per_step:.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

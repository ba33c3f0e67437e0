"""The worst work a user can write, run by a real `flowdeck serve`: every such execution
ends `failed` with a message naming the limit and where, the API answers /healthz within
200 ms all along (the work runs in the supervised worker child), the worker's memory stays
under its cap, and an ordinary execution succeeds afterwards."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import BLOCK_SECONDS, MEMORY_MB, HostileServer, peak_memory_mb
from tests.hostile.probe import HealthProbe

BIG = "{% set s = 'x' * 600000 %}"  # a text over half the size limit
GROW = "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"

# (the expression for `steps[0].with.v`, what the execution's error must say; `|`
# separates alternatives)
HOSTILE = {
    "concatenation in a loop": (GROW + "{% endfor %}{{ ns.s }}", "FLOWDECK_EXPRESSION_MAX_SIZE"),
    "addition in a loop": (
        "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}"
        "{% endfor %}{{ ns.l }}",
        "FLOWDECK_EXPRESSION_MAX_SIZE",
    ),
    "repetition": ("{{ 'ab' * 100000000 }}", "FLOWDECK_EXPRESSION_MAX_SIZE"),
    "a join of many long texts": (BIG + "{{ ([s] * 100000) | join(',') }}", "EXPRESSION_MAX_SIZE"),
    "str.join": (BIG + "{{ ','.join([s] * 100000) }}", "FLOWDECK_EXPRESSION_MAX_SIZE"),
    "replace": (BIG + "{{ s | replace('x', 'xxxx') }}", "FLOWDECK_EXPRESSION_MAX_SIZE"),
    "indent": (
        "{% set s = '\\n' * 500000 %}{{ s | indent(50) }}",
        "FLOWDECK_EXPRESSION_MAX_SIZE",
    ),
    "list growth by a filter": (BIG + "{{ (s | list) + (s | list) }}", "EXPRESSION_MAX_SIZE"),
    "a huge range": ("{{ range(1000000000) | list }}", "range() of 1000000000 items"),
    "nested loops": (
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        "FLOWDECK_EXPRESSION_MAX_OPERATIONS",
    ),
    "a slow filter on long text": (BIG + "{{ s | wordwrap(1) }}", "it takes at most 100000"),
    "CPU-bound filters in a loop": (
        "{% set ns = namespace(l=(range(10000) | list) * 100) %}{% for i in range(1000) %}"
        "{% set ns.l = ns.l | sort(reverse=(i % 2 == 0)) %}{% endfor %}{{ ns.l | length }}",
        "FLOWDECK_EXPRESSION_TIMEOUT",
    ),
    "a recursive macro": (
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        "calls nested too deeply",
    ),
    "a macro doubling its argument": (
        "{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('ab') }}",
        "FLOWDECK_EXPRESSION_MAX_SIZE",
    ),
    # 2**40 calls: whichever of the operations and time limits comes first stops it.
    "a macro fanning out": (
        "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
        "FLOWDECK_EXPRESSION_MAX_OPERATIONS|FLOWDECK_EXPRESSION_TIMEOUT",
    ),
    "a value that is not JSON": ("{{ config.items() }}", "dict_items is not JSON"),
    # One allocation no size check foresees: the memory cap refuses it.
    "a format that repeats a long text": (
        "{% set s = 'x' * 1000000 %}{{ ('{0}' * 10000).format(s) | length }}",
        "FLOWDECK_WORKER_MEMORY_MB",
    ),
}
NORMAL = {"steps": [{"id": "ok", "type": "set", "with": {"v": "{{ 40 + 2 }}"}}]}


def _hostile(expression: str) -> dict[str, object]:
    return {"steps": [{"id": "bad", "type": "set", "with": {"v": expression}}]}


def _normal_run_succeeds(hostile: HostileServer) -> None:
    after = hostile.run(NORMAL)
    assert after["status"] == "succeeded", after
    assert after["steps"][0]["output"] == {"v": 42}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_expressions_fail_their_step_and_nobody_else_notices(
    hostile: HostileServer, case: str
) -> None:
    expression, complaint = HOSTILE[case]
    worker = hostile.worker()
    with HealthProbe(hostile.base_url) as probe:
        execution = hostile.run(_hostile(expression))
    probe.assert_responsive()
    assert execution["status"] == "failed", execution
    message = execution["error"]["message"]
    assert any(part in message for part in complaint.split("|")), message
    assert execution["error"]["path"] == "steps[0].with.v"
    assert message.startswith("steps[0].with.v: ")
    assert execution["error"]["step"] == "bad"
    assert hostile.worker().pid == worker.pid, "the worker was restarted"
    assert peak_memory_mb(worker) < MEMORY_MB
    _normal_run_succeeds(hostile)


def test_a_step_that_holds_the_worker_is_failed_by_the_watchdog(hostile: HostileServer) -> None:
    # One multiplication of huge integers: a single call that holds the event loop (and the
    # GIL) for minutes, which no check inside the worker can interrupt.
    expression = "{% set a = 7 ** 1000 %}{% set b = a ** 1000 %}{{ (b ** 300) > 0 }}"
    worker = hostile.worker()
    with HealthProbe(hostile.base_url) as probe:
        execution = hostile.run(_hostile(expression))
        _normal_run_succeeds(hostile)  # on the new worker
    probe.assert_responsive()
    assert execution["status"] == "failed", execution
    assert f"held its worker for more than {BLOCK_SECONDS} s" in execution["error"]["message"]
    assert "FLOWDECK_WORKER_BLOCK_SECONDS" in execution["error"]["message"]
    assert execution["error"]["path"] == "steps[0].with.v"
    [step] = execution["steps"]
    assert (step["path"], step["status"]) == ("bad", "failed")
    assert not worker.is_running(), "the stalled worker was not killed"
    assert hostile.worker().pid != worker.pid

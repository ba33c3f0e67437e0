"""Every step type as a user meets it: through the API, run by a real worker."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.engine.conftest import Target, run, steps_of


def test_a_set_log_workflow_succeeds_with_outputs(engine: Api) -> None:
    ada = engine.person("ada")
    execution = run(
        engine,
        ada,
        {
            "inputs": {"n": {"type": "integer", "default": 2}},
            "steps": [
                {"id": "double", "type": "set", "with": {"value": "{{ inputs.n * 2 }}"}},
                {
                    "id": "say",
                    "type": "log",
                    "with": {"message": "got {{ steps.double.output.value }}"},
                },
            ],
            "outputs": {"result": "{{ steps.double.output.value }}"},
        },
        inputs={"n": "21"},
    )
    assert execution["status"] == "succeeded", execution
    assert execution["outputs"] == {"result": 42}
    assert execution["inputs"] == {"n": 21}
    steps = steps_of(execution)
    assert [s["status"] for s in execution["steps"]] == ["succeeded", "succeeded"]
    assert steps["say"]["output"] == {"message": "got 42", "level": "info"}
    assert steps["say"]["logs"][0]["message"] == "got 42"


def test_http_step_output_and_expected_status(engine: Api, target: Target) -> None:
    ada = engine.person("ada")
    execution = run(
        engine,
        ada,
        {
            "steps": [
                {
                    "id": "get",
                    "type": "http",
                    "with": {"url": f"{target.url}/echo", "query": {"q": "x"}},
                },
                {
                    "id": "post",
                    "type": "http",
                    "idempotent": True,
                    "with": {"method": "POST", "url": f"{target.url}/echo", "json": {"a": 1}},
                },
            ],
            "outputs": {
                "status": "{{ steps.get.output.status }}",
                "sent": "{{ steps.post.output.body.body }}",
            },
        },
    )
    assert execution["status"] == "succeeded", execution
    assert execution["outputs"] == {"status": 200, "sent": '{"a":1}'}
    post = steps_of(execution)["post"]["output"]
    assert post["body"]["headers"]["Idempotency-Key"] == f"{execution['id']}:post"
    assert post["elapsed_ms"] >= 0


def test_a_failing_http_step_fails_the_execution_with_its_error(
    engine: Api, target: Target
) -> None:
    ada = engine.person("ada")
    execution = run(
        engine,
        ada,
        {
            "steps": [
                {"id": "bad", "type": "http", "with": {"url": f"{target.url}/status/404"}},
                {"id": "never", "type": "log", "with": {"message": "unreachable"}},
            ]
        },
    )
    assert execution["status"] == "failed"
    assert execution["error"]["step"] == "bad"
    assert "answered 404" in execution["error"]["message"]
    assert [s["path"] for s in execution["steps"]] == ["bad"]


def test_retry_with_backoff_until_it_works(engine: Api, target: Target) -> None:
    ada = engine.person("ada")
    execution = run(
        engine,
        ada,
        {
            "steps": [
                {
                    "id": "poll",
                    "type": "http",
                    "retry": {"attempts": 4, "backoff": "50ms"},
                    "with": {"url": f"{target.url}/flaky/a?fail=2"},
                }
            ]
        },
    )
    assert execution["status"] == "succeeded", execution
    assert steps_of(execution)["poll"]["attempt"] == 3
    assert target.hits["/flaky/a"] == 3


def test_continue_on_error_and_when(engine: Api, target: Target) -> None:
    ada = engine.person("ada")
    execution = run(
        engine,
        ada,
        {
            "steps": [
                {
                    "id": "bad",
                    "type": "http",
                    "continue_on_error": True,
                    "with": {"url": f"{target.url}/status/500"},
                },
                {
                    "id": "handled",
                    "type": "log",
                    "when": "{{ steps.bad.status == 'failed' }}",
                    "with": {"message": "recovered"},
                },
                {"id": "skipped", "type": "log", "when": "{{ false }}", "with": {"message": "no"}},
            ]
        },
    )
    assert execution["status"] == "succeeded", execution
    statuses = {path: step["status"] for path, step in steps_of(execution).items()}
    assert statuses == {"bad": "failed", "handled": "succeeded", "skipped": "skipped"}


def test_fail_step_and_timeout(engine: Api, target: Target) -> None:
    ada = engine.person("ada")
    failed = run(
        engine,
        ada,
        {"steps": [{"id": "stop", "type": "fail", "with": {"message": "nope: {{ 1 + 1 }}"}}]},
    )
    assert (failed["status"], failed["error"]["message"]) == ("failed", "nope: 2")
    slow = run(
        engine,
        ada,
        {
            "steps": [
                {
                    "id": "slow",
                    "type": "http",
                    "timeout": "100ms",
                    "with": {"url": f"{target.url}/slow?ms=2000"},
                }
            ]
        },
    )
    assert slow["status"] == "failed"
    assert "timed out after 100ms" in slow["error"]["message"]


def test_branch_foreach_and_parallel(engine: Api, target: Target) -> None:
    ada = engine.person("ada")
    execution = run(
        engine,
        ada,
        {
            "inputs": {"names": {"type": "array"}},
            "steps": [
                {
                    "id": "each",
                    "type": "foreach",
                    "items": "{{ inputs.names }}",
                    "concurrency": 2,
                    "steps": [
                        {
                            "id": "hello",
                            "type": "set",
                            "with": {"text": "hi {{ item }} #{{ loop.index }}"},
                        }
                    ],
                },
                {
                    "id": "check",
                    "type": "branch",
                    "if": "{{ steps.each.output | length > 2 }}",
                    "then": [{"id": "many", "type": "log", "with": {"message": "many"}}],
                    "else": [{"id": "few", "type": "log", "with": {"message": "few"}}],
                },
                {
                    "id": "both",
                    "type": "parallel",
                    "branches": {
                        "left": [
                            {"id": "l", "type": "http", "with": {"url": f"{target.url}/left"}}
                        ],
                        "right": [{"id": "r", "type": "set", "with": {"x": 1}}],
                    },
                },
            ],
            "outputs": {
                "greetings": "{{ steps.each.output | map(attribute='hello')"
                " | map(attribute='text') | list }}",
                "taken": "{{ steps.check.output.taken }}",
                "left": "{{ steps.both.output.left.l.status }}",
            },
        },
        inputs={"names": ["ann", "bo", "cy"]},
    )
    assert execution["status"] == "succeeded", execution
    assert execution["outputs"] == {
        "greetings": ["hi ann #1", "hi bo #2", "hi cy #3"],
        "taken": "then",
        "left": 200,
    }
    paths = set(steps_of(execution))
    assert {
        "each[0].hello",
        "each[2].hello",
        "check.then.many",
        "both.left.l",
        "both.right.r",
    } <= paths
    assert "check.else.few" not in paths


def test_failed_conditions_skip_the_execution_saying_which(engine: Api) -> None:
    ada = engine.person("ada")
    execution = run(
        engine,
        ada,
        {
            "inputs": {"url": {"type": "string"}},
            "conditions": ["{{ inputs.url.startswith('https://') }}"],
            "steps": [{"id": "a", "type": "log", "with": {"message": "x"}}],
        },
        inputs={"url": "http://plain"},
    )
    assert execution["status"] == "skipped"
    assert execution["error"]["path"] == "conditions[0]"
    assert execution["steps"] == []


def test_an_expression_error_names_the_missing_path(engine: Api) -> None:
    ada = engine.person("ada")
    execution = run(
        engine, ada, {"steps": [{"id": "a", "type": "set", "with": {"v": "{{ {'x': 1}.y.z }}"}}]}
    )
    assert execution["status"] == "failed"
    # Where in the definition (as validation says it), and which step in the execution.
    assert execution["error"]["path"] == "steps[0].with.v"
    assert execution["error"]["step"] == "a"
    assert execution["error"]["message"].startswith("steps[0].with.v: ")


def test_the_execution_timeout_stops_it_between_steps(engine: Api, target: Target) -> None:
    ada = engine.person("ada")
    execution = run(
        engine,
        ada,
        {
            "timeout": "200ms",
            "steps": [
                {"id": "slow", "type": "http", "with": {"url": f"{target.url}/slow?ms=400"}},
                {"id": "late", "type": "http", "with": {"url": f"{target.url}/ok/late"}},
            ],
        },
    )
    assert execution["status"] == "failed"
    assert "timed out" in execution["error"]["message"]
    assert target.hits["/ok/late"] == 0


def test_foreach_over_something_else_than_a_list_fails_clearly(engine: Api) -> None:
    ada = engine.person("ada")
    execution = run(
        engine,
        ada,
        {
            "steps": [
                {
                    "id": "each",
                    "type": "foreach",
                    "items": "{{ 42 }}",
                    "steps": [{"id": "x", "type": "log", "with": {"message": "{{ item }}"}}],
                }
            ]
        },
    )
    assert execution["status"] == "failed"
    assert execution["error"]["message"] == "items must be a list, got int"

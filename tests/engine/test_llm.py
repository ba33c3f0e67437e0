"""The `llm` step against a local fake of an OpenAI-compatible chat endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from flowdeck.engine.steps.llm import MAX_WAIT, retry_delay
from tests.api.conftest import Api
from tests.engine.conftest import run, steps_of

KEY = "sk-test-0123456789abcdef"


def completion(content: str, finish_reason: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "fake-model-2024",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


Reply = tuple[int, Any, dict[str, str]]


class FakeLlm:
    """Answers POST /v1/chat/completions from a script of (status, body, headers).

    Records every request; a wrong bearer key gets OpenAI's 401 instead of a script entry.
    Past the end of the script it answers with the last entry.
    """

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                if self.path != "/v1/chat/completions":
                    self._reply(404, {"error": {"message": f"no route {self.path}"}}, {})
                elif self.headers.get("Authorization") != f"Bearer {KEY}":
                    error = {"message": "Incorrect API key provided.", "type": "invalid_request"}
                    self._reply(401, {"error": error}, {})
                else:
                    index = min(len(fake.requests), len(fake.script)) - 1
                    self._reply(*fake.script[index])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def llm() -> Iterator[FakeLlm]:
    fake = FakeLlm()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def llm_workflow(fake: FakeLlm, **args: Any) -> dict[str, Any]:
    return {
        "steps": [
            {
                "id": "ask",
                "type": "llm",
                "with": {"model": "fake-model", "base_url": fake.base_url, "api_key": KEY, **args},
            }
        ],
        "outputs": {"answer": "{{ steps.ask.output.content }}"},
    }


def test_a_prompt_becomes_a_chat_request_and_the_reply_its_output(
    engine: Api, llm: FakeLlm
) -> None:
    ada = engine.person("ada")
    llm.script = [(200, completion("Paris."), {})]
    execution = run(
        engine,
        ada,
        {
            "inputs": {"country": {"type": "string"}},
            **llm_workflow(
                llm, prompt="Capital of {{ inputs.country }}?", temperature=0.2, max_tokens=50
            ),
        },
        inputs={"country": "France"},
    )
    assert execution["status"] == "succeeded", execution
    assert execution["outputs"] == {"answer": "Paris."}
    [request] = llm.requests
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert request["body"] == {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "Capital of France?"}],
        "temperature": 0.2,
        "max_tokens": 50,
    }
    assert steps_of(execution)["ask"]["output"] == {
        "content": "Paris.",
        "model": "fake-model-2024",
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def test_json_mode_asks_for_json_and_parses_the_reply(engine: Api, llm: FakeLlm) -> None:
    ada = engine.person("ada")
    llm.script = [(200, completion('{"city": "Paris", "population": 2102650}'), {})]
    messages = [
        {"role": "system", "content": "Answer in JSON."},
        {"role": "user", "content": "Capital of France?"},
    ]
    definition = llm_workflow(llm, messages=messages, json=True)
    definition["outputs"] = {"city": "{{ steps.ask.output.json.city }}"}
    execution = run(engine, ada, definition)
    assert execution["status"] == "succeeded", execution
    assert execution["outputs"] == {"city": "Paris"}
    [request] = llm.requests
    assert request["body"]["messages"] == messages
    assert request["body"]["response_format"] == {"type": "json_object"}
    assert "temperature" not in request["body"]
    output = steps_of(execution)["ask"]["output"]
    assert output["json"] == {"city": "Paris", "population": 2102650}


def test_json_mode_with_a_reply_that_is_not_json_fails_without_retry(
    engine: Api, llm: FakeLlm
) -> None:
    ada = engine.person("ada")
    llm.script = [(200, completion("Sure! The capital is Paris."), {})]
    definition = llm_workflow(llm, prompt="Capital of France, as JSON?", json=True)
    definition["steps"][0]["retry"] = {"attempts": 3, "backoff": "0s"}
    execution = run(engine, ada, definition)
    assert execution["status"] == "failed", execution
    step = steps_of(execution)["ask"]
    assert step["status"] == "failed"
    assert step["error"]["message"].startswith("the model's reply is not JSON")
    assert step["attempt"] == 1
    assert len(llm.requests) == 1
    # What the model said is kept, for a person to see why.
    assert step["output"]["content"] == "Sure! The capital is Paris."


def test_a_429_is_asked_again_after_retry_after(engine: Api, llm: FakeLlm) -> None:
    ada = engine.person("ada")
    throttled = {"error": {"message": "Rate limit reached", "type": "requests"}}
    llm.script = [(429, throttled, {"Retry-After": "0"}), (200, completion("ok"), {})]
    execution = run(engine, ada, llm_workflow(llm, prompt="hi"))
    assert execution["status"] == "succeeded", execution
    assert len(llm.requests) == 2
    step = steps_of(execution)["ask"]
    assert step["attempt"] == 1  # retried inside the step, not by the runner
    assert "429" in step["logs"][0]["message"]


def test_a_500_three_times_then_success(engine: Api, llm: FakeLlm) -> None:
    ada = engine.person("ada")
    down = (500, {"error": {"message": "The server had an error"}}, {"Retry-After": "0"})
    llm.script = [down, down, down, (200, completion("ok"), {})]
    execution = run(engine, ada, llm_workflow(llm, prompt="hi"))
    assert execution["status"] == "succeeded", execution
    assert len(llm.requests) == 4
    assert len(steps_of(execution)["ask"]["logs"]) == 3


def test_a_5xx_on_every_try_fails_the_step_after_four(engine: Api, llm: FakeLlm) -> None:
    ada = engine.person("ada")
    llm.script = [(503, "upstream unavailable", {"Retry-After": "0"})]
    execution = run(engine, ada, llm_workflow(llm, prompt="hi"))
    assert execution["status"] == "failed", execution
    assert len(llm.requests) == 4
    message = steps_of(execution)["ask"]["error"]["message"]
    assert "503" in message and "upstream unavailable" in message and "4 tries" in message


def test_a_400_fails_with_the_servers_message_and_no_retry(engine: Api, llm: FakeLlm) -> None:
    ada = engine.person("ada")
    error = {
        "message": "This model's maximum context length is 8192 tokens.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    llm.script = [(400, {"error": error}, {})]
    definition = llm_workflow(llm, prompt="hi")
    definition["steps"][0]["retry"] = {"attempts": 3, "backoff": "0s"}
    execution = run(engine, ada, definition)
    assert execution["status"] == "failed", execution
    step = steps_of(execution)["ask"]
    assert "maximum context length is 8192 tokens" in step["error"]["message"]
    assert step["error"]["status"] == 400
    assert step["attempt"] == 1
    assert len(llm.requests) == 1


def test_the_api_key_appears_nowhere_in_the_execution(engine: Api, llm: FakeLlm) -> None:
    ada = engine.person("ada")
    # A server that echoes the key in its error, and a refused key: neither may leak.
    echo: Reply = (400, {"error": {"message": f"bad request for key {KEY}"}}, {})
    llm.script = [(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}), echo]
    failed = run(engine, ada, llm_workflow(llm, prompt="hi"))
    assert failed["status"] == "failed", failed
    assert "[api_key]" in steps_of(failed)["ask"]["error"]["message"]
    llm.requests.clear()
    llm.script = [(200, completion("ok"), {})]
    succeeded = run(engine, ada, llm_workflow(llm, prompt="hi"))
    assert succeeded["status"] == "succeeded", succeeded
    for execution in (failed, succeeded):
        fetched = engine.get(f"/api/executions/{execution['id']}", ada)
        assert fetched.status_code == 200
        assert KEY not in fetched.text
        assert KEY not in json.dumps(execution)


def test_a_wrong_key_is_a_401_that_is_not_retried(engine: Api, llm: FakeLlm) -> None:
    ada = engine.person("ada")
    llm.script = [(200, completion("never"), {})]
    definition = llm_workflow(llm, prompt="hi")
    definition["steps"][0]["with"]["api_key"] = "sk-wrong"
    execution = run(engine, ada, definition)
    assert execution["status"] == "failed", execution
    message = steps_of(execution)["ask"]["error"]["message"]
    assert "401" in message and "Incorrect API key provided." in message
    assert "sk-wrong" not in message
    assert len(llm.requests) == 1


def test_retry_delay_honours_retry_after_seconds_dates_and_the_cap() -> None:
    assert retry_delay({"retry-after": "2"}, 1) == 2
    assert retry_delay({"retry-after": "0"}, 3) == 0
    assert retry_delay({"retry-after": "3600"}, 1) == MAX_WAIT
    assert retry_delay({"retry-after-ms": "250", "retry-after": "9"}, 1) == 0.25
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=10), usegmt=True)
    assert 8 <= retry_delay({"retry-after": later}, 1) <= 10
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=10), usegmt=True)
    assert retry_delay({"retry-after": past}, 1) == 0
    # No header (or one that does not parse): exponential backoff with jitter.
    assert 0.5 <= retry_delay({}, 1) <= 1
    assert 2 <= retry_delay({"retry-after": "soon"}, 3) <= 4
    assert retry_delay({}, 10) == MAX_WAIT

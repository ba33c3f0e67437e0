"""The `llm` step: one chat completion from an OpenAI-compatible `/chat/completions` endpoint.

Output: {content, json (json mode only), model, finish_reason, usage}. A 429 or 5xx is
asked again inside the step, honouring `Retry-After`; other 4xx fail it at once. The API
key goes into the request's Authorization header and nowhere else: not into outputs,
errors or logs.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from flowdeck.definition.durations import parse_duration
from flowdeck.engine.outbound import OutboundRefused
from flowdeck.engine.steps.base import StepError, StepRun

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT = 60.0
MAX_TRIES = 4  # counts the first request too
MAX_WAIT = 30.0  # seconds; longer Retry-After values are cut to this
BACKOFF = 1.0  # the wait after the first failure when the server names none; doubles
MAX_ERROR_TEXT = 500
USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


async def run_llm(args: Mapping[str, Any], run: StepRun) -> Any:
    """Ask the model; output {content, json?, model, finish_reason, usage}."""
    api_key = str(args.get("api_key") or "")
    base_url = str(args.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
    url = f"{base_url}/chat/completions"
    want_json = bool(args.get("json"))
    timeout = args.get("timeout")
    seconds = parse_duration(timeout).total_seconds() if timeout is not None else DEFAULT_TIMEOUT
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = _request_body(args, want_json)

    for attempt in range(1, MAX_TRIES + 1):
        try:
            response = await run.http.post(url, json=body, headers=headers, timeout=seconds)
        except OutboundRefused as exc:
            raise StepError(f"POST {url}: {exc}", retryable=False) from None
        except httpx.TimeoutException:
            raise StepError(f"POST {url} timed out after {seconds:g} s") from None
        except httpx.HTTPError as exc:
            raise StepError(_redact(f"POST {url} failed: {exc}", api_key)) from None
        status = response.status_code
        if status < 400:
            return _output(response, url, want_json, api_key)
        message = _redact(f"POST {url} answered {status}: {_error_message(response)}", api_key)
        transient = status == 429 or status >= 500
        if not transient:
            raise StepError(message, status=status, retryable=False)
        if attempt == MAX_TRIES:
            raise StepError(
                f"{message} (gave up after {MAX_TRIES} tries)", status=status, retryable=True
            )
        wait = retry_delay(response.headers, attempt)
        run.log(
            f"{message}; asking again in {wait:g} s (try {attempt + 1} of {MAX_TRIES})", "warning"
        )
        await asyncio.sleep(wait)
    raise AssertionError("unreachable: the last try returns or raises")


def _request_body(args: Mapping[str, Any], want_json: bool) -> dict[str, Any]:
    if args.get("prompt") is not None:
        messages: Any = [{"role": "user", "content": str(args["prompt"])}]
    else:
        messages = args.get("messages")
        fits = isinstance(messages, list) and all(
            isinstance(m, Mapping) and "role" in m and "content" in m for m in messages
        )
        if not fits or not messages:
            raise StepError("messages must be a non-empty list of {role, content}", retryable=False)
        messages = [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    body: dict[str, Any] = {"model": str(args["model"]), "messages": messages}
    if args.get("temperature") is not None:
        body["temperature"] = float(args["temperature"])
    if args.get("max_tokens") is not None:
        body["max_tokens"] = int(args["max_tokens"])
    if want_json:
        body["response_format"] = {"type": "json_object"}
    return body


def _output(response: httpx.Response, url: str, want_json: bool, api_key: str) -> dict[str, Any]:
    try:
        reply = response.json()
        choice = reply["choices"][0]
        message = choice["message"]
    except (ValueError, LookupError, TypeError):
        text = _redact(response.text[:MAX_ERROR_TEXT], api_key)
        raise StepError(
            f"POST {url} answered {response.status_code} without a chat completion: {text}",
            retryable=False,
        ) from None
    usage = reply.get("usage") if isinstance(reply.get("usage"), Mapping) else {}
    output: dict[str, Any] = {
        "content": message.get("content") or "",
        "model": reply.get("model"),
        "finish_reason": choice.get("finish_reason"),
        "usage": {name: usage.get(name) for name in USAGE_FIELDS},
    }
    if want_json:
        try:
            output["json"] = json.loads(output["content"])
        except ValueError as exc:
            cut = (
                " (the reply was cut off at max_tokens)"
                if output["finish_reason"] == "length"
                else ""
            )
            raise StepError(
                f"the model's reply is not JSON{cut}: {exc}", output=output, retryable=False
            ) from None
    return output


def retry_delay(headers: Mapping[str, str], attempt: int) -> float:
    """Seconds to wait before try `attempt + 1`: the server's word, else backoff; capped."""
    wait = _retry_after(headers)
    if wait is None:
        # Jitter, so that many executions throttled together do not come back together.
        wait = BACKOFF * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)  # noqa: S311 (not security)
    return min(max(wait, 0.0), MAX_WAIT)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    millis = headers.get("retry-after-ms")  # OpenAI's finer-grained variant
    if millis is not None:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - datetime.now(UTC)).total_seconds()


def _error_message(response: httpx.Response) -> str:
    """The server's own words: OpenAI's {"error": {"message"}}, or what else it sent."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:MAX_ERROR_TEXT].strip() or response.reason_phrase
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and error.get("message"):
            return str(error["message"])[:MAX_ERROR_TEXT]
        for found in (error, body.get("message"), body.get("detail")):
            if isinstance(found, str) and found:
                return found[:MAX_ERROR_TEXT]
    return json.dumps(body)[:MAX_ERROR_TEXT]


def _redact(text: str, api_key: str) -> str:
    # Some servers echo the key they refused; it must not reach an error a person reads.
    return text.replace(api_key, "[api_key]") if api_key else text

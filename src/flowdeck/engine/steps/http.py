"""The `http` step: one request with httpx; output {status, headers, body, elapsed_ms}."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from flowdeck.definition.durations import parse_duration
from flowdeck.definition.steps_schema import HttpArgs
from flowdeck.engine.outbound import OutboundRefused
from flowdeck.engine.steps.base import StepError, StepRun, field_default

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
DEFAULT_TIMEOUT = 30.0
MAX_BODY = 10 * 1024 * 1024
METHOD: str = field_default(HttpArgs, "method")


async def run_http(args: Mapping[str, Any], run: StepRun) -> Any:
    method = str(args.get("method", METHOD)).upper()
    headers = {str(k): str(v) for k, v in (args.get("headers") or {}).items()}
    idempotent = run.step.get("idempotent")
    if idempotent is None:
        idempotent = method in IDEMPOTENT_METHODS
    if run.step.get("idempotent") is True:
        # A server that honours the key applies a repeated request once, so the step may
        # be retried, and re-run after a crash, without doing its work twice.
        headers.setdefault("Idempotency-Key", run.idempotency_key)
    timeout = args.get("timeout")
    seconds = parse_duration(timeout).total_seconds() if timeout is not None else DEFAULT_TIMEOUT
    request: dict[str, Any] = {"headers": headers, "params": args.get("query") or None}
    if "json" in args:
        request["json"] = args["json"]
    elif args.get("body") is not None:
        request["content"] = str(args["body"])
    started = time.perf_counter()
    try:
        response = await run.http.request(method, str(args["url"]), timeout=seconds, **request)
    except OutboundRefused as exc:
        raise StepError(
            f"{method} {args['url']}{_hop(exc, args['url'])}: {exc}", retryable=False
        ) from None
    except httpx.TimeoutException:
        raise StepError(f"{method} {args['url']} timed out after {seconds:g} s") from None
    except httpx.HTTPError as exc:
        raise StepError(f"{method} {args['url']} failed: {exc}") from None
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    output = {
        "status": response.status_code,
        "headers": dict(response.headers),
        "body": _body(response),
        "elapsed_ms": elapsed_ms,
    }
    expect = args.get("expect")
    expected = [int(code) for code in expect] if expect else None
    ok = response.status_code in expected if expected else response.status_code < 400
    if not ok:
        want = ", ".join(map(str, expected)) if expected else "a status below 400"
        raise StepError(
            f"{method} {args['url']} answered {response.status_code}; expected {want}",
            output=output,
            retryable=response.status_code >= 500 or response.status_code == 429 or bool(expected),
        )
    return output


def _hop(refused: OutboundRefused, url: str) -> str:
    """' was redirected to <host>' when the refused host is not the one the step named."""
    try:
        named = httpx.URL(url).raw_host.decode("ascii")  # as httpcore names it: IDNA
    except (httpx.InvalidURL, UnicodeDecodeError):
        named = None
    return "" if named == refused.host else f" was redirected to {refused.host}"


def _body(response: httpx.Response) -> Any:
    if len(response.content) > MAX_BODY:
        raise StepError(f"the response body is larger than {MAX_BODY} bytes")
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except ValueError:
            return response.text
    return response.text

"""Webhook calls: the trigger whose URL token was called starts its workflow.

No bearer token: the unguessable token in the URL is the credential (stored hashed), so
an unknown or inactive one is NotFound. A trigger with a signing secret also wants
`X-Flowdeck-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`
made within 5 minutes, and refuses a delivery id (`X-Flowdeck-Delivery`) seen before.

The execution's inputs are the trigger's stored inputs with `body`, `headers` and
`query` (the request's) merged over them, each passed only when the workflow declares
it. See docs/triggers.md, "Calling a webhook".
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Container, Mapping
from typing import Any
from uuid import UUID

from flowdeck.db.queries import fetch_row, query
from flowdeck.db.types import Conn
from flowdeck.definition.document import DefinitionError, validate_definition
from flowdeck.documents import (
    DocumentLimits,
    DocumentTooComplexError,
    MalformedDocumentError,
    UnstorableValueError,
    load_json,
    text_problem,
)
from flowdeck.engine import lifecycle
from flowdeck.services.errors import (
    BadRequest,
    NotFound,
    Throttled,
    Unauthenticated,
    document_too_complex,
    prefixed_path,
    unstorable,
)
from flowdeck.services.executions import starting
from flowdeck.users import credentials
from flowdeck.vault.box import SecretBox

Q = "hooks"
SIGNATURE_HEADER = "X-Flowdeck-Signature"
DELIVERY_HEADER = "X-Flowdeck-Delivery"
TOLERANCE_SECONDS = 300
MAX_DELIVERY_ID = 255
PRIVATE_HEADERS = frozenset({"authorization", "cookie"})
NOTHING_HERE = "There is nothing at this address."


def _bad_signature(message: str) -> Unauthenticated:
    return Unauthenticated("bad_signature", message)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The v1 value: hex HMAC-SHA256 of `<timestamp>.<raw body>` with the secret."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify_signature(secret: str, header: str | None, body: bytes, now: float) -> str:
    """Check the signature header; return its v1 value, or raise bad_signature."""
    if header is None or not header.strip():
        raise _bad_signature(f"The {SIGNATURE_HEADER} header is missing.")
    parts: dict[str, str] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts[key.strip()] = value.strip()
    timestamp_text, given = parts.get("t", ""), parts.get("v1", "")
    if not timestamp_text.isdigit() or not given:
        raise _bad_signature(
            f"The {SIGNATURE_HEADER} header is malformed; expected 't=<unix seconds>,v1=<hex>'."
        )
    timestamp = int(timestamp_text)
    if not hmac.compare_digest(sign(secret, timestamp, body), given.lower()):
        raise _bad_signature("The signature is wrong for this body and timestamp.")
    if timestamp < now - TOLERANCE_SECONDS:
        raise _bad_signature("The signature's timestamp is older than 5 minutes.")
    if timestamp > now + TOLERANCE_SECONDS:
        raise _bad_signature("The signature's timestamp is more than 5 minutes in the future.")
    return given.lower()


def parse_body(raw: bytes, limits: DocumentLimits) -> Any:
    """The JSON body, or its text when it is not JSON; None when empty.

    A JSON body past the document limits is refused (document_too_complex), not passed
    on as text: the sender meant it as JSON.
    """
    if not raw.strip():
        return None
    try:
        return load_json(raw, limits, subject="The request body")
    except DocumentTooComplexError as error:
        raise document_too_complex(error) from None
    except UnstorableValueError as error:
        raise unstorable(prefixed_path("body", error.path), error.reason) from None
    except MalformedDocumentError:
        text = raw.decode("utf-8", errors="replace")
        if (problem := text_problem(text)) is not None:  # a NUL byte: not storable text
            raise unstorable("body", problem) from None
        return text


def request_inputs(
    raw: bytes,
    headers: Mapping[str, str],
    query_params: Mapping[str, str],
    declared: Container[str],
    limits: DocumentLimits,
) -> dict[str, Any]:
    """The request's body, headers and query, each only when the workflow declares it (so
    a body is parsed only for a workflow that takes it). A header sent twice is joined."""
    inputs: dict[str, Any] = {}
    if "body" in declared:
        inputs["body"] = parse_body(raw, limits)
    joined: dict[str, str] = {}
    for name, value in headers.items():
        name = name.lower()
        if name in PRIVATE_HEADERS:
            continue
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    if "headers" in declared:
        inputs["headers"] = joined
    if "query" in declared:
        inputs["query"] = dict(query_params)
    return inputs


async def _declared_inputs(conn: Conn, trigger: dict[str, Any]) -> set[str]:
    cur = await conn.execute(
        query("workflows", "get"),
        {"id": trigger["user_workflow_id"], "user_id": trigger["user_id"]},
    )
    workflow = await cur.fetchone()
    if workflow is None:  # lifecycle.start answers for it
        return set()
    try:
        return set(validate_definition(workflow["definition"]).inputs)
    except DefinitionError:
        return set()


async def receive(
    conn: Conn,
    box: SecretBox,
    token: str,
    *,
    raw: bytes,
    headers: Mapping[str, str],
    query_params: Mapping[str, str],
    limits: DocumentLimits,
    now: float,
) -> UUID:
    """Start the workflow of the webhook trigger with this URL token; the execution's id.

    `headers` as the request had them (a header sent twice as one `Mapping.items()` pair
    each; `get` of a lower-case name finds it). NotFound for an unknown or inactive
    token; Unauthenticated bad_signature or replayed_delivery; Throttled
    too_many_requests past the trigger's rate.
    """
    cur = await conn.execute(
        query(Q, "trigger_by_token"), {"token_hash": credentials.digest(token)}
    )
    trigger = await cur.fetchone()
    if trigger is None:
        raise NotFound(NOTHING_HERE)
    sealed = trigger["signing_secret_encrypted"]
    if sealed:
        secret = box.open(sealed, "webhook signing secret")
        v1 = verify_signature(secret, headers.get(SIGNATURE_HEADER.lower()), raw, now)
        delivery_id = headers.get(DELIVERY_HEADER.lower()) or v1
        if len(delivery_id) > MAX_DELIVERY_ID:
            raise BadRequest(
                "bad_request",
                f"The {DELIVERY_HEADER} header is longer than {MAX_DELIVERY_ID} characters.",
            )
    else:
        delivery_id = f"unsigned:{uuid.uuid4().hex}"
    declared = await _declared_inputs(conn, trigger)
    given = request_inputs(raw, headers, query_params, declared, limits)
    inputs = {**(trigger["inputs"] or {}), **given}
    ids = {"id": trigger["id"]}
    with starting():
        async with conn.transaction():
            cur = await conn.execute(query(Q, "lock_trigger"), ids)
            if await cur.fetchone() is None:  # deactivated meanwhile
                raise NotFound(NOTHING_HERE)
            await conn.execute(query(Q, "prune_deliveries"), ids)
            cur = await conn.execute(query(Q, "recent_deliveries"), ids)
            recent = await fetch_row(cur)
            limit = trigger["rate_limit_per_minute"]
            if recent["calls"] >= limit:
                raise Throttled(
                    "too_many_requests",
                    f"This webhook accepts at most {limit} calls a minute; try again later.",
                    recent["retry_after"],
                )
            cur = await conn.execute(
                query(Q, "insert_delivery"), {**ids, "delivery_id": delivery_id}
            )
            if await cur.fetchone() is None:
                raise Unauthenticated("replayed_delivery", "This delivery id was already received.")
            execution_id, _ = await lifecycle.start(
                conn,
                trigger["user_id"],
                workflow_id=trigger["user_workflow_id"],
                inputs=inputs,
                trigger="webhook",
            )
    return execution_id


async def result(conn: Conn, execution_id: UUID) -> dict[str, Any]:
    """What a webhook's caller may see of the execution it started: status, outputs, error."""
    cur = await conn.execute(query(Q, "execution_result"), {"id": execution_id})
    return await fetch_row(cur)

"""A workflow as a document: export one of mine as YAML or JSON, import one back.

Import reads the text within the document limits (BadRequest malformed_document or
document_too_complex, Invalid for an unstorable value or a document that is not an
export), then validates it as a new workflow is.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, ValidationError

from flowdeck.db.types import Conn
from flowdeck.definition.document import Issue
from flowdeck.documents import (
    DocumentLimits,
    DocumentTooComplexError,
    MalformedDocumentError,
    UnstorableValueError,
)
from flowdeck.services.errors import (
    BadRequest,
    Invalid,
    document_too_complex,
    location_path,
    unstorable,
)
from flowdeck.services.workflows import create_workflow, get_workflow
from flowdeck.users.service import User
from flowdeck.workflows import documents

ExportFormat = Literal["yaml", "json"]


class ImportDocument(BaseModel):
    """What export gives and import takes back."""

    kind: Literal["flowdeck/workflow"] = "flowdeck/workflow"
    version: Literal[1] = 1
    name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    category: str | None = Field(None, max_length=100)
    config: dict[str, Any] = Field(default_factory=dict)
    definition: dict[str, Any]


async def export_workflow(
    conn: Conn, actor: User, workflow_id: UUID, fmt: ExportFormat
) -> tuple[dict[str, Any], str]:
    """One of the actor's workflows and its export document, as text in `fmt`."""
    workflow = await get_workflow(conn, actor, workflow_id)
    return workflow, documents.render_export(documents.export_document(workflow), fmt)


async def import_workflow(
    conn: Conn, actor: User, raw: bytes, *, json_only: bool, limits: DocumentLimits
) -> dict[str, Any]:
    """A new workflow of the actor's from an export document (YAML, or JSON only)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("malformed_document", "The document is not UTF-8 text.") from None
    try:
        # In a thread: YAML is parsed in Python, and a large document (within the limits)
        # takes long enough that other requests would wait for it on the event loop.
        data = await asyncio.to_thread(
            documents.parse_text, text, json_only=json_only, limits=limits
        )
    except MalformedDocumentError as exc:
        raise BadRequest("malformed_document", str(exc)) from None
    except DocumentTooComplexError as exc:
        raise document_too_complex(exc) from None
    except UnstorableValueError as exc:
        raise unstorable(exc.path, exc.reason) from None
    if not isinstance(data, dict):
        raise Invalid(
            "The document must be a mapping with name and definition.",
            [Issue("", "expected a mapping (an object)")],
        )
    try:
        document = ImportDocument.model_validate(data)
    except ValidationError as exc:
        raise Invalid(
            "The document is not valid.",
            [Issue(location_path(e["loc"]), e["msg"]) for e in exc.errors()],
        ) from None
    return await create_workflow(conn, actor, document.model_dump())

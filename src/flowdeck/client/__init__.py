"""`flowdeck.client`: Flowdeck's REST API from Python, blocking (`Client`) or asyncio
(`AsyncClient`); both run the same operation definitions (see docs/client.md)::

    from flowdeck.client import Client

    with Client() as flowdeck:  # FLOWDECK_URL / FLOWDECK_TOKEN, or `flowdeck login`
        workflow = flowdeck.create_workflow_from_template("website-uptime-check")
        execution = flowdeck.run_workflow(workflow.id, {"url": "https://example.com"}, wait=60)
"""

from __future__ import annotations

from flowdeck.client.aio import AsyncClient
from flowdeck.client.api import UNSET, Operations
from flowdeck.client.config import DEFAULT_URL, ClientConfig, config_path, resolve
from flowdeck.client.errors import (
    ErrorDetail,
    FlowdeckApiError,
    FlowdeckConnectionError,
    UnexpectedResponseError,
)
from flowdeck.client.models import (
    FINAL_STATUSES,
    Event,
    Execution,
    ExecutionSummary,
    NewToken,
    Page,
    StatusEvent,
    Step,
    StepEvent,
    Template,
    TemplateSummary,
    User,
    Workflow,
    WorkflowSummary,
)
from flowdeck.client.sync import Client

__all__ = [
    "DEFAULT_URL",
    "FINAL_STATUSES",
    "UNSET",
    "AsyncClient",
    "Client",
    "ClientConfig",
    "ErrorDetail",
    "Event",
    "Execution",
    "ExecutionSummary",
    "FlowdeckApiError",
    "FlowdeckConnectionError",
    "NewToken",
    "Operations",
    "Page",
    "StatusEvent",
    "Step",
    "StepEvent",
    "Template",
    "TemplateSummary",
    "UnexpectedResponseError",
    "User",
    "Workflow",
    "WorkflowSummary",
    "config_path",
    "resolve",
]

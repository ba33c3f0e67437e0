"""The asyncio client runs the same operations against a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flowdeck.client import AsyncClient, FlowdeckApiError, StatusEvent, StepEvent
from tests.api.conftest import Api, Person
from tests.client.conftest import base_url
from tests.engine.conftest import Target


def test_the_async_client_creates_runs_and_follows(
    engine: Api, ada: Person, target: Target, no_config: Path
) -> None:
    async def scenario() -> None:
        async with AsyncClient(base_url(engine), ada.token, config_path=no_config) as client:
            templates = [t.id async for t in client.all(client.list_templates, limit=5)]
            assert "website-uptime-check" in templates and len(templates) > 5
            workflow = await client.create_workflow_from_template("website-uptime-check")
            execution = await client.run_workflow(
                workflow.id, {"urls": [f"{target.url}/status/500"], "fail_when_down": True}
            )
            events = [event async for event in client.events(execution.id)]
            last = events[-1]
            assert isinstance(last, StatusEvent) and last.status == "failed"
            steps = {e.path for e in events if isinstance(e, StepEvent)}
            assert {"check", "summary", "fail_run"} <= steps
            finished = await client.get_execution(execution.id)
            assert finished.status == "failed"
            page = await client.list_executions(status="failed")
            assert [item.id for item in page.items] == [execution.id]
            with pytest.raises(FlowdeckApiError) as missing:
                await client.get_template("no-such-template")
            assert missing.value.status == 404

    asyncio.run(scenario())

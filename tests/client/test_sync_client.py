"""The blocking client against a real server: every operation a script would use."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flowdeck.client import (
    Client,
    FlowdeckApiError,
    FlowdeckConnectionError,
    StatusEvent,
    StepEvent,
)
from tests.api.conftest import Api, Person
from tests.client.conftest import base_url
from tests.engine.conftest import Target

UPTIME = "website-uptime-check"


def test_templates_workflows_and_a_run_waiting_for_the_end(client: Client, target: Target) -> None:
    page = client.list_templates(limit=200)
    assert UPTIME in {template.id for template in page.items}
    template = client.get_template(UPTIME)
    assert template.steps and "urls" in template.inputs

    workflow = client.create_workflow_from_template(UPTIME, name="My uptime")
    assert workflow.template_id == UPTIME and workflow.name == "My uptime"
    assert [w.id for w in client.list_workflows(search="uptime").items] == [workflow.id]

    execution = client.run_workflow(workflow.id, {"urls": [f"{target.url}/ok"]}, wait=60)
    assert execution.status == "succeeded", execution.error
    assert execution.outputs["healthy"] is True
    assert {step.path for step in execution.steps} >= {"check", "summary", "report_healthy"}
    assert all(step.duration is not None for step in execution.steps)
    listed = client.list_executions(workflow_id=workflow.id)
    assert [item.id for item in listed.items] == [execution.id]
    assert client.get_execution(execution.id).outputs == execution.outputs


def test_events_follow_an_execution_to_its_end(client: Client) -> None:
    definition = {
        "steps": [
            {"id": "greet", "type": "set", "with": {"text": "hi"}},
            {"id": "boom", "type": "fail", "with": {"message": "it broke"}},
        ]
    }
    workflow = client.create_workflow("Breaker", definition)
    execution = client.run_workflow(workflow.id)
    events = list(client.events(execution.id))
    finished = {e.path: e.status for e in events if isinstance(e, StepEvent) and e.finished_at}
    assert finished == {"greet": "succeeded", "boom": "failed"}
    last = events[-1]
    assert isinstance(last, StatusEvent) and last.final and last.status == "failed"
    assert "it broke" in last.error["message"]
    retried = client.retry_execution(execution.id)
    assert retried.retry_of == execution.id


def test_update_export_import_delete_and_paging(client: Client) -> None:
    definition = {"steps": [{"id": "a", "type": "set", "with": {"n": 1}}]}
    made = [client.create_workflow(f"W{i}", definition) for i in range(5)]
    seen = list(client.all(client.list_workflows, limit=2, sort="name"))
    assert [w.name for w in seen] == ["W0", "W1", "W2", "W3", "W4"]

    changed = client.update_workflow(made[0].id, name="Renamed", description=None)
    assert changed.name == "Renamed" and changed.description is None

    document = client.export_workflow(made[0].id)
    assert yaml.safe_load(document)["name"] == "Renamed"
    copy = client.import_workflow(document)
    assert copy.id != made[0].id and copy.definition == made[0].definition

    client.delete_workflow(copy.id)
    with pytest.raises(FlowdeckApiError) as missing:
        client.get_workflow(copy.id)
    assert missing.value.status == 404 and missing.value.code == "not_found"


def test_an_invalid_definition_is_an_error_with_its_paths(client: Client) -> None:
    bad = {"steps": [{"id": "a", "type": "http", "with": {}}, {"id": "a", "type": "set"}]}
    with pytest.raises(FlowdeckApiError) as rejected:
        client.create_workflow("Bad", bad)
    error = rejected.value
    assert error.status == 422 and error.code == "validation_failed"
    paths = [detail.path for detail in error.details]
    assert any(path.startswith("definition.steps[0]") for path in paths), paths
    assert any(path.startswith("definition.steps[1]") for path in paths), paths
    assert "definition.steps[1]" in str(error)  # the message names every path


def test_a_bad_token_is_the_api_error(engine: Api, no_config: Path) -> None:
    with (
        Client(base_url(engine), "fd_not-a-token", config_path=no_config) as client,
        pytest.raises(FlowdeckApiError) as refused,
    ):
        client.list_templates()
    assert refused.value.status == 401 and refused.value.code == "unauthorized"
    assert "not valid" in refused.value.message


def test_an_unreachable_server_is_named(no_config: Path) -> None:
    with (
        Client("http://127.0.0.1:9", "fd_x", config_path=no_config) as client,
        pytest.raises(
            FlowdeckConnectionError, match=r"cannot reach Flowdeck at http://127\.0\.0\.1:9"
        ),
    ):
        client.me()


def test_login_makes_a_token_that_works(engine: Api, ada: Person, no_config: Path) -> None:
    with Client(base_url(engine), config_path=no_config, anonymous=True) as anonymous:
        me = anonymous.login(ada.email, ada.password)
        issued = anonymous.create_token("cli on test", csrf_token=me.csrf_token)
        anonymous.logout(csrf_token=me.csrf_token)
    with Client(base_url(engine), issued.token, config_path=no_config) as client:
        assert client.me().email == ada.email
    with (
        Client(base_url(engine), config_path=no_config, anonymous=True) as anonymous,
        pytest.raises(FlowdeckApiError) as wrong,
    ):
        anonymous.login(ada.email, "wrong password")
    assert wrong.value.code == "invalid_credentials"

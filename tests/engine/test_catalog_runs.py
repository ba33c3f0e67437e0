"""The templates written for email, LLM and webhooks, run end to end against local
SMTP, chat and HTTP servers, as a user would run them."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.engine.conftest import Target
from tests.engine.test_email import Smtp, smtp  # noqa: F401 (the SMTP server fixture)
from tests.engine.test_llm import KEY, FakeLlm, completion, llm  # noqa: F401 (fixture)


def _run_template(api: Api, template: str, inputs: dict[str, Any]) -> dict[str, Any]:
    ada = api.person("ada")
    started = api.post(
        f"/api/templates/{template}/executions", ada, params={"wait": 60}, json={"inputs": inputs}
    )
    assert started.status_code == 201, started.json()
    body: dict[str, Any] = started.json()
    return body


def test_uptime_email_alert_mails_only_when_a_page_is_down(
    engine: Api,
    target: Target,
    smtp: Smtp,  # noqa: F811
) -> None:
    smtp_inputs = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port}
    quiet = _run_template(
        engine,
        "uptime-email-alert",
        {"urls": [f"{target.url}/ok/a"], "alert_to": ["oncall@example.com"], **smtp_inputs},
    )
    assert quiet["status"] == "succeeded", quiet
    assert quiet["outputs"] == {"down": [], "alerted": False}
    assert smtp.mailbox.received == []
    loud = _run_template(
        engine,
        "uptime-email-alert",
        {
            "urls": [f"{target.url}/ok/a", f"{target.url}/status/503"],
            "alert_to": ["oncall@example.com"],
            **smtp_inputs,
        },
    )
    assert loud["status"] == "succeeded", loud
    assert loud["outputs"] == {"down": [f"{target.url}/status/503"], "alerted": True}
    mail = smtp.mailbox.one()
    assert mail.rcpt_tos == ["oncall@example.com"]
    assert mail.message["Subject"] == "DOWN: 1 of 2 pages failing"
    assert f"{target.url}/status/503: 503" in mail.message.get_content()


def test_daily_digest_emails_each_value_and_flags_the_unreadable(
    engine: Api,
    target: Target,
    smtp: Smtp,  # noqa: F811
) -> None:
    execution = _run_template(
        engine,
        "daily-digest",
        {
            "sources": [
                {"name": "Echo method", "url": f"{target.url}/echo", "field": "method"},
                {"name": "Broken", "url": f"{target.url}/status/500"},
            ],
            "digest_to": ["team@example.com"],
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
        },
    )
    assert execution["status"] == "succeeded", (execution["error"], execution["steps"])
    assert execution["outputs"]["unreadable"] == ["Broken"]
    text = smtp.mailbox.one().message.get_content()
    assert "Echo method: GET" in text
    assert "Broken: could not be read" in text


def test_webhook_llm_summary_posts_the_models_summary(
    engine: Api,
    target: Target,
    llm: FakeLlm,  # noqa: F811
) -> None:
    ada = engine.person("ada")
    engine.client.put("/api/secrets/LLM_API_KEY", headers=ada.headers, json={"value": KEY})
    llm.script = [(200, completion("A user reports that login fails on Safari."), {})]
    execution = _run_template(
        engine,
        "webhook-llm-summary",
        {
            "body": {"action": "opened", "issue": {"title": "Login fails on Safari"}},
            "forward_url": f"{target.url}/echo",
            "llm_base_url": llm.base_url,
        },
    )
    assert execution["status"] == "succeeded", execution
    assert execution["outputs"]["summary"] == "A user reports that login fails on Safari."
    asked = llm.requests[0]["body"]["messages"]
    assert '"Login fails on Safari"' in asked[1]["content"]
    posted = next(r for r in target.requests if r["path"] == "/echo")
    assert '"text": "A user reports that login fails on Safari."' in posted["body"].replace(
        '":"', '": "'
    )
    assert KEY not in engine.get(f"/api/executions/{execution['id']}", ada).text

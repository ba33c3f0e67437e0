"""The `email` step against a real SMTP server (aiosmtpd) started on 127.0.0.1 by the test."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from flowdeck.engine.outbound import OutboundPolicy, http_client
from flowdeck.engine.steps.base import StepError, StepRun
from flowdeck.engine.steps.email import message_id, run_email
from tests.api.conftest import Api
from tests.engine.conftest import run, steps_of

USER, PASSWORD = "flowdeck", "s3cret"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None


class Mailbox:
    """An aiosmtpd handler that keeps what it receives and refuses the addresses it is told."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.arrived = threading.Event()
        self.replies: dict[str, str] = {}  # recipient → the reply to its RCPT TO

    async def handle_RCPT(
        self,
        server: SMTP,  # noqa: ARG002 (aiosmtpd's hook signature)
        session: Session,  # noqa: ARG002
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],  # noqa: ARG002
    ) -> str:
        if address in self.replies:
            return self.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: ARG002
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        login = session.auth_data.login.decode() if session.auth_data else None
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), message, login)
        )
        self.arrived.set()
        return "250 Message accepted"

    def one(self) -> Received:
        assert self.arrived.wait(10), "no message arrived"
        assert len(self.received) == 1, self.received
        return self.received[0]


def _authenticate(
    server: SMTP,  # noqa: ARG001 (aiosmtpd's authenticator signature)
    session: Session,  # noqa: ARG001
    envelope: Envelope,  # noqa: ARG001
    mechanism: str,  # noqa: ARG001
    auth_data: Any,
) -> AuthResult:
    ok = auth_data == LoginPassword(USER.encode(), PASSWORD.encode())
    # handled=False: aiosmtpd sends the 235/535 reply itself (True would leave the client hanging).
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def free_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Smtp:
    mailbox: Mailbox
    port: int

    @property
    def settings(self) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "security": "none"}


def _serve(**smtp: Any) -> Iterator[Smtp]:
    mailbox = Mailbox()
    # aiosmtpd's Controller checks readiness by connecting to its port, so not port 0.
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **smtp)
    controller.start()
    try:
        yield Smtp(mailbox, controller.port)
    finally:
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    yield from _serve()


@pytest.fixture
def smtp_auth() -> Iterator[Smtp]:
    # Plain-text AUTH for the test only: a real server would require TLS first.
    yield from _serve(authenticator=_authenticate, auth_require_tls=False)


def send(
    args: Mapping[str, Any],
    path: str = "mail",
    attempt: int = 1,
    outbound: OutboundPolicy | None = None,
) -> tuple[Any, list[Any]]:
    """Run the step's handler once, outside the engine: (output, logs)."""
    policy = outbound if outbound is not None else OutboundPolicy()

    async def go() -> tuple[Any, list[Any]]:
        async with http_client(policy) as client:
            step = {"id": path, "type": "email"}
            step_run = StepRun("exec-1", path, attempt, client, step, outbound=policy)
            return await run_email(args, step_run), step_run.logs

    return asyncio.run(go())


def fails(args: Mapping[str, Any]) -> StepError:
    with pytest.raises(StepError) as caught:
        send(args)
    return caught.value


def test_a_workflow_sends_an_email_with_cc_bcc_text_and_html(engine: Api, smtp: Smtp) -> None:
    ada = engine.person("ada")
    execution = run(
        engine,
        ada,
        {
            "inputs": {"who": {"type": "string"}},
            "steps": [
                {
                    "id": "tell",
                    "type": "email",
                    "with": {
                        "from": "Flowdeck <robot@example.com>",
                        "to": ["ops@example.com", "dev@example.com"],
                        "cc": "lead@example.com",
                        "bcc": ["audit@example.com"],
                        "subject": "Hello {{ inputs.who }}",
                        "text": "All checks passed.",
                        "html": "<p>All checks <b>passed</b>.</p>",
                        "smtp": smtp.settings,
                    },
                }
            ],
            "outputs": {"id": "{{ steps.tell.output.message_id }}"},
        },
        inputs={"who": "ops"},
    )
    assert execution["status"] == "succeeded", execution
    got = smtp.mailbox.one()
    assert got.mail_from == "robot@example.com"
    assert got.rcpt_tos == [
        "ops@example.com",
        "dev@example.com",
        "lead@example.com",
        "audit@example.com",
    ]
    message = got.message
    assert message["From"] == "Flowdeck <robot@example.com>"
    assert message["To"] == "ops@example.com, dev@example.com"
    assert message["Cc"] == "lead@example.com"
    assert message["Bcc"] is None
    assert "audit@example.com" not in bytes(message).decode()
    assert message["Subject"] == "Hello ops"
    assert message["X-Flowdeck-Execution"] == execution["id"]
    assert message["Date"] is not None
    assert message["Message-ID"] == execution["outputs"]["id"]
    assert message["Message-ID"] == message_id(f"{execution['id']}:tell", "robot@example.com")
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part for part in message.iter_parts()}
    assert cast(EmailMessage, parts["text/plain"]).get_content().strip() == "All checks passed."
    html = cast(EmailMessage, parts["text/html"]).get_content().strip()
    assert html == "<p>All checks <b>passed</b>.</p>"
    output = steps_of(execution)["tell"]["output"]
    assert output["accepted"] == got.rcpt_tos
    assert output["refused"] == {}


def test_html_only_from_the_default_sender(smtp: Smtp) -> None:
    output, _ = send(
        {"to": "a@example.com", "subject": "s", "html": "<i>hi</i>", "smtp": smtp.settings}
    )
    got = smtp.mailbox.one()
    assert got.mail_from == "flowdeck@localhost"
    assert got.message["From"] == "flowdeck@localhost"
    assert got.message.get_content_type() == "text/html"
    assert got.message.get_content().strip() == "<i>hi</i>"
    assert output["accepted"] == ["a@example.com"]


def test_the_message_id_is_the_same_for_every_attempt_of_the_same_step(smtp: Smtp) -> None:
    args = {"to": "a@example.com", "subject": "s", "text": "t", "smtp": smtp.settings}
    first, _ = send(args, attempt=1)
    again, _ = send(args, attempt=2)
    other, _ = send(args, path="other")
    assert first["message_id"] == again["message_id"] != other["message_id"]
    assert first["message_id"].endswith("@localhost>")
    ids = [received.message["Message-ID"] for received in smtp.mailbox.received]
    assert ids == [first["message_id"], again["message_id"], other["message_id"]]


def test_smtp_auth_with_a_password_from_an_input(engine: Api, smtp_auth: Smtp) -> None:
    ada = engine.person("ada")
    settings = {**smtp_auth.settings, "username": USER, "password": "{{ inputs.password }}"}
    execution = run(
        engine,
        ada,
        {
            "inputs": {"password": {"type": "string"}},
            "steps": [
                {
                    "id": "tell",
                    "type": "email",
                    "with": {"to": "a@example.com", "subject": "s", "text": "t", "smtp": settings},
                }
            ],
        },
        inputs={"password": PASSWORD},
    )
    assert execution["status"] == "succeeded", execution
    assert smtp_auth.mailbox.one().login == USER


def test_a_wrong_password_fails_and_is_not_retried(smtp_auth: Smtp) -> None:
    settings = {**smtp_auth.settings, "username": USER, "password": "wrong"}
    error = fails({"to": "a@example.com", "subject": "s", "text": "t", "smtp": settings})
    assert error.message.startswith(f"SMTP login as 'flowdeck' at 127.0.0.1:{smtp_auth.port}")
    assert "535" in error.message
    assert error.details["retryable"] is False
    assert smtp_auth.mailbox.received == []


def test_a_refused_recipient_fails_the_step_with_the_servers_message(
    engine: Api, smtp: Smtp
) -> None:
    smtp.mailbox.replies["nobody@example.com"] = "550 5.1.1 no such user here"
    ada = engine.person("ada")
    execution = run(
        engine,
        ada,
        {
            "steps": [
                {
                    "id": "tell",
                    "type": "email",
                    "retry": {"attempts": 3, "backoff": "10ms"},
                    "with": {
                        "to": "nobody@example.com",
                        "subject": "s",
                        "text": "t",
                        "smtp": smtp.settings,
                    },
                }
            ]
        },
    )
    assert execution["status"] == "failed", execution
    step = steps_of(execution)["tell"]
    assert step["attempt"] == 1  # a 5xx refusal is permanent: no retry
    assert "refused every recipient" in step["error"]["message"]
    assert "nobody@example.com: 550 5.1.1 no such user here" in step["error"]["message"]
    assert smtp.mailbox.received == []


def test_a_partly_refused_mail_is_sent_to_the_others_and_says_who_was_refused(
    smtp: Smtp,
) -> None:
    smtp.mailbox.replies["nobody@example.com"] = "550 5.1.1 no such user here"
    output, logs = send(
        {
            "to": ["a@example.com", "nobody@example.com"],
            "subject": "s",
            "text": "t",
            "smtp": smtp.settings,
        }
    )
    assert output["accepted"] == ["a@example.com"]
    assert output["refused"] == {"nobody@example.com": "550 5.1.1 no such user here"}
    assert smtp.mailbox.one().rcpt_tos == ["a@example.com"]
    assert logs[0]["level"] == "warning"


def test_a_4xx_refusal_is_retryable(smtp: Smtp) -> None:
    smtp.mailbox.replies["busy@example.com"] = "451 4.3.0 try again later"
    error = fails({"to": "busy@example.com", "subject": "s", "text": "t", "smtp": smtp.settings})
    assert "busy@example.com: 451 4.3.0 try again later" in error.message
    assert error.details["retryable"] is True


def test_an_unreachable_server_fails_after_retries(engine: Api) -> None:
    port = free_port()
    ada = engine.person("ada")
    execution = run(
        engine,
        ada,
        {
            "steps": [
                {
                    "id": "tell",
                    "type": "email",
                    "retry": {"attempts": 2, "backoff": "10ms"},
                    "with": {
                        "to": "a@example.com",
                        "subject": "s",
                        "text": "t",
                        "smtp": {"host": "127.0.0.1", "port": port},
                    },
                }
            ]
        },
    )
    assert execution["status"] == "failed", execution
    step = steps_of(execution)["tell"]
    assert step["attempt"] == 2
    message = step["error"]["message"]
    assert message.startswith(f"could not talk to the SMTP server at 127.0.0.1:{port}: ")


def test_bad_smtp_settings_fail_without_retry() -> None:
    error = fails({"to": "a@example.com", "subject": "s", "text": "t", "smtp": {"security": "x"}})
    assert error.message == "smtp.security 'x' is not one of: 'starttls', 'tls' or 'none'"
    assert error.details["retryable"] is False

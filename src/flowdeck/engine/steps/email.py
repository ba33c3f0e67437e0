"""The `email` step: one message over SMTP with aiosmtplib; output {accepted, message_id, refused}.

The Message-ID derives from the step's idempotency key, so a mail sent again after a
retry or a crash carries the same id and a person (or a mail filter) can tell it is
the same message.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

import aiosmtplib

from flowdeck.engine.outbound import OutboundRefused
from flowdeck.engine.steps.base import StepError, StepRun

DEFAULT_FROM = "flowdeck@localhost"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_TIMEOUT = 30.0
PORTS = {"none": 25, "starttls": 587, "tls": 465}


async def run_email(args: Mapping[str, Any], run: StepRun) -> Any:
    """Send the message; fail with a StepError a person can read when the server says no."""
    to, cc, bcc = (_recipients(args.get(key), key) for key in ("to", "cc", "bcc"))
    if not to:
        raise StepError("'to' has no recipient", retryable=False)
    sender = str(args.get("from") or DEFAULT_FROM)
    envelope_from = parseaddr(sender)[1] or sender
    message = _message(args, run, sender, envelope_from, to, cc)
    smtp = _smtp(args.get("smtp"))
    host, port = smtp.pop("hostname"), smtp.pop("port")
    where = f"{host}:{port}"
    try:
        # The step connects (to an address the outbound policy checked) and hands
        # aiosmtplib the socket; the host name still goes to TLS, for SNI and the
        # certificate check.
        async with asyncio.timeout(DEFAULT_TIMEOUT):
            sock = await run.outbound.connect(host, port)
    except OutboundRefused as exc:
        raise StepError(f"the SMTP server at {where}: {exc}", retryable=False) from None
    except TimeoutError:
        raise StepError(
            f"the SMTP server at {where} did not answer in {DEFAULT_TIMEOUT:g} s"
        ) from None
    except OSError as exc:
        raise StepError(f"could not talk to the SMTP server at {where}: {exc}") from None
    try:
        refused, _reply = await aiosmtplib.send(
            message,
            sender=envelope_from,
            recipients=[*to, *cc, *bcc],  # Bcc is only in the envelope, never a header
            timeout=DEFAULT_TIMEOUT,
            hostname=host,
            sock=sock,
            **smtp,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        reasons = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        raise StepError(
            f"the SMTP server at {where} refused every recipient ({reasons})",
            retryable=all(_transient(r.code) for r in exc.recipients),
        ) from None
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise StepError(
            f"SMTP login as {smtp.get('username')!r} at {where} failed: {exc.code} {exc.message}",
            retryable=False,
        ) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise StepError(
            f"the SMTP server at {where} answered {exc.code} {exc.message}",
            retryable=_transient(exc.code),
        ) from None
    except aiosmtplib.SMTPTimeoutError:
        raise StepError(
            f"the SMTP server at {where} did not answer in {DEFAULT_TIMEOUT:g} s"
        ) from None
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError) as exc:
        raise StepError(f"could not talk to the SMTP server at {where}: {exc}") from None
    except aiosmtplib.SMTPException as exc:
        # The server lacks what the settings ask for (STARTTLS, AUTH): trying again won't help.
        raise StepError(f"sending through {where} failed: {exc}", retryable=False) from None
    finally:
        sock.close()  # aiosmtplib closed its connection; this covers a failure before it began
    if refused:
        run.log(f"the server refused {', '.join(refused)}", level="warning")
    return {
        "accepted": [r for r in (*to, *cc, *bcc) if r not in refused],
        "message_id": message["Message-ID"],
        "refused": {r: f"{reply.code} {reply.message}" for r, reply in refused.items()},
    }


def message_id(key: str, sender_address: str) -> str:
    """The Message-ID of the mail the step with idempotency `key` sends: the same every time."""
    domain = sender_address.rpartition("@")[2] or "flowdeck.localhost"
    return f"<flowdeck.{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def _message(
    args: Mapping[str, Any],
    run: StepRun,
    sender: str,
    envelope_from: str,
    to: list[str],
    cc: list[str],
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = str(args.get("subject") or "")
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(run.idempotency_key, envelope_from)
    message["X-Flowdeck-Execution"] = run.execution_id
    text, html = args.get("text"), args.get("html")
    if text is not None:
        message.set_content(str(text))
        if html is not None:
            message.add_alternative(str(html), subtype="html")  # multipart/alternative
    else:
        message.set_content(str(html), subtype="html")
    return message


def _recipients(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise StepError(f"'{key}' must be an address or a list of addresses", retryable=False)
    return [item.strip() for item in items if item.strip()]


def _smtp(value: Any) -> dict[str, Any]:
    """aiosmtplib's connection arguments from `with.smtp`, with the documented defaults."""
    settings = value or {}
    if not isinstance(settings, Mapping):
        raise StepError("'smtp' must be a mapping of SMTP settings", retryable=False)
    # A server named in `smtp` gets STARTTLS unless told otherwise (a password must not
    # cross a network in the clear by default); with no `smtp` at all the step talks to
    # a relay on this machine, where plain SMTP is the norm.
    security = str(settings.get("security") or ("starttls" if settings else "none"))
    if security not in PORTS:
        raise StepError(
            f"smtp.security {security!r} is not one of: 'starttls', 'tls' or 'none'",
            retryable=False,
        )
    port = settings.get("port")
    try:
        port = int(port) if port is not None else PORTS[security]
    except (TypeError, ValueError):
        raise StepError(f"smtp.port {port!r} is not a port number", retryable=False) from None
    connection: dict[str, Any] = {
        "hostname": str(settings.get("host") or DEFAULT_HOST),
        "port": port,
        "use_tls": security == "tls",
        "start_tls": security == "starttls",  # True: required; False: never, even if offered
    }
    if settings.get("username"):
        connection["username"] = str(settings["username"])
        connection["password"] = str(settings.get("password") or "")
    return connection


def _transient(code: int) -> bool:
    """4xx SMTP replies mean "try again later"; 5xx mean "this will not work"."""
    return 400 <= code < 500

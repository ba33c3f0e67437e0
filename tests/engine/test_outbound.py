"""The outbound policy: http, email and llm steps refuse forbidden addresses before connecting.

Nothing here may send a packet outside 127.0.0.0/8: names resolve through a test
resolver (metadata.test → 169.254.169.254), and a tripwire (a Python audit hook on
socket.connect) records every connection the process makes while a test watches and
blocks any that would leave loopback, so a broken policy fails the test instead of
reaching a real metadata service.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from flowdeck.api.app import create_app
from flowdeck.config import Settings, load_settings
from flowdeck.engine.outbound import IPAddress, OutboundPolicy, http_client, parse_networks
from flowdeck.engine.steps.base import StepError, StepRun
from flowdeck.engine.steps.http import run_http
from flowdeck.engine.steps.llm import run_llm
from flowdeck.engine.worker import WorkerSettings
from flowdeck.errors import ConfigError
from tests.api.conftest import Api, running_server
from tests.api.conftest import api as api
from tests.engine.conftest import Target, run, steps_of, wait_for_final
from tests.engine.test_email import Smtp, send
from tests.engine.test_email import smtp as smtp
from tests.engine.test_llm import FakeLlm
from tests.engine.test_llm import llm as llm
from tests.helpers import flowdeck_env

METADATA = "is in 169.254.0.0/16, refused by the outbound policy (FLOWDECK_OUTBOUND_DENY)"
NAMES = {
    "metadata.test": ["169.254.169.254"],
    "link.test": ["fe80::1"],
    "mapped.test": ["::ffff:169.254.169.254"],
    "local.test": ["127.0.0.1"],
    "split.test": ["127.0.0.1", "169.254.169.254"],  # one good address does not save a name
}


async def fake_resolver(host: str, port: int) -> list[IPAddress]:  # noqa: ARG001 (a Resolver)
    """Literal addresses as the system reads them (numeric only: no DNS query), else NAMES."""
    if host in NAMES:
        return [ipaddress.ip_address(address) for address in NAMES[host]]
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    return [ipaddress.ip_address(info[4][0]) for info in infos[:1]]


def policy(deny: str = "169.254.0.0/16,fe80::/10", allow: str = "") -> OutboundPolicy:
    return OutboundPolicy(parse_networks(deny), parse_networks(allow), fake_resolver)


# --- the tripwire ----------------------------------------------------------------------------

_watchers: list[list[str]] = []


def _tripwire(event: str, args: tuple[Any, ...]) -> None:
    if event != "socket.connect" or not _watchers:
        return
    address = args[1]
    if not isinstance(address, tuple):  # a Unix socket: it does not leave the machine
        return
    host = str(address[0])
    for seen in _watchers:
        seen.append(host)
    try:
        loopback = ipaddress.ip_address(host.partition("%")[0]).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise PermissionError(f"test tripwire: a connection to {address} would leave loopback")


_hooked: list[bool] = []


@pytest.fixture
def connects() -> Iterator[list[str]]:
    """Every address the process connects to during the test (non-loopback ones blocked)."""
    if not _hooked:  # an audit hook cannot be removed: one for the session, idle unless watched
        sys.addaudithook(_tripwire)
        _hooked.append(True)
    seen: list[str] = []
    _watchers.append(seen)
    yield seen
    _watchers.remove(seen)


def fetch(url: str, outbound: OutboundPolicy) -> Any:
    """Run the http step's handler once with `outbound`'s client; return its output."""

    async def go() -> Any:
        async with http_client(outbound) as client:
            step = {"id": "fetch", "type": "http"}
            return await run_http(
                {"url": url}, StepRun("e", "fetch", 1, client, step, outbound=outbound)
            )

    return asyncio.run(go())


def refused(url: str, outbound: OutboundPolicy) -> str:
    with pytest.raises(StepError) as caught:
        fetch(url, outbound)
    assert caught.value.details == {"retryable": False}, "a policy refusal is not retried"
    return caught.value.message


def never_left_loopback(seen: Sequence[str]) -> None:
    assert all(ipaddress.ip_address(host.partition("%")[0]).is_loopback for host in seen), seen


# --- http ------------------------------------------------------------------------------------


def test_a_name_resolving_to_the_metadata_service_is_refused_before_connecting(
    connects: list[str],
) -> None:
    message = refused("http://metadata.test/latest/meta-data", policy())
    assert message == (
        "GET http://metadata.test/latest/meta-data: 169.254.169.254 (resolved from "
        f"metadata.test) {METADATA}"
    )
    assert connects == []


@pytest.mark.parametrize(
    ("url", "address", "network"),
    [
        ("http://link.test/", "fe80::1 (resolved from link.test)", "fe80::/10"),
        ("http://[fe80::1]:8080/", "fe80::1", "fe80::/10"),
        ("http://169.254.169.254/latest", "169.254.169.254", "169.254.0.0/16"),
        # An IPv4-mapped IPv6 address reaches the IPv4 one on a dual-stack socket.
        ("http://[::ffff:169.254.169.254]/", "::ffff:a9fe:a9fe", "169.254.0.0/16"),
        ("http://mapped.test/", "::ffff:a9fe:a9fe (resolved from mapped.test)", "169.254.0.0/16"),
        # Spellings the resolver decodes: the policy checks what they resolve to.
        ("http://2852039166/", "169.254.169.254 (resolved from 2852039166)", "169.254.0.0/16"),
        ("http://0xa9fea9fe/", "169.254.169.254 (resolved from 0xa9fea9fe)", "169.254.0.0/16"),
        ("http://split.test/", "169.254.169.254 (resolved from split.test)", "169.254.0.0/16"),
    ],
)
def test_link_local_in_any_spelling_is_refused(
    connects: list[str], url: str, address: str, network: str
) -> None:
    message = refused(url, policy())
    assert message.endswith(
        f": {address} is in {network}, refused by the outbound policy (FLOWDECK_OUTBOUND_DENY)"
    ), message
    assert connects == []


def test_a_literal_metadata_url_is_refused_with_the_system_resolver(connects: list[str]) -> None:
    message = refused("http://169.254.169.254/latest/meta-data", OutboundPolicy())
    assert message.endswith(f": 169.254.169.254 {METADATA}"), message
    assert connects == []


def test_a_redirect_to_a_link_local_name_is_refused_at_the_redirect(
    connects: list[str], target: Target
) -> None:
    url = f"{target.url}/redirect?to=http://metadata.test/latest/meta-data"
    message = refused(url, policy())
    assert message == (
        f"GET {url} was redirected to metadata.test: 169.254.169.254 (resolved from "
        f"metadata.test) {METADATA}"
    )
    assert target.hits["/redirect"] == 1  # the first hop went out; the second never did
    never_left_loopback(connects)


def test_by_default_loopback_is_allowed_and_the_connection_goes_to_the_checked_address(
    connects: list[str], target: Target
) -> None:
    port = target.url.rsplit(":", 1)[1]
    output = fetch(f"http://local.test:{port}/echo", policy())
    assert output["status"] == 200
    # Connected to the address that was checked, with the name kept for the server.
    assert output["body"]["headers"]["Host"] == f"local.test:{port}"
    assert connects == ["127.0.0.1"]


def test_a_deny_list_with_loopback_refuses_the_local_server(
    connects: list[str], target: Target
) -> None:
    message = refused(f"{target.url}/ok", policy(deny="169.254.0.0/16,127.0.0.0/8"))
    assert message.endswith(
        ": 127.0.0.1 is in 127.0.0.0/8, refused by the outbound policy (FLOWDECK_OUTBOUND_DENY)"
    ), message
    port = target.url.rsplit(":", 1)[1]
    # 0.0.0.0 and ::ffff:127.0.0.1 reach this host too: they are refused the same way.
    for url in (f"http://0.0.0.0:{port}/ok", f"http://[::ffff:127.0.0.1]:{port}/ok"):
        assert "refused by the outbound policy" in refused(url, policy(deny="127.0.0.0/8"))
    assert target.hits == {}
    assert connects == []


def test_an_allow_list_permits_only_its_networks_and_deny_still_wins(
    connects: list[str], target: Target
) -> None:
    assert fetch(f"{target.url}/ok", policy(allow="127.0.0.0/8"))["status"] == 200
    message = refused(f"{target.url}/ok", policy(allow="10.0.0.0/8, 192.168.0.0/16"))
    assert message.endswith(
        ": 127.0.0.1 is not in 10.0.0.0/8, 192.168.0.0/16, refused by the outbound policy "
        "(FLOWDECK_OUTBOUND_ALLOW permits only these)"
    ), message
    # Listing the metadata network as allowed does not lift the deny.
    message = refused("http://metadata.test/", policy(allow="169.254.0.0/16"))
    assert message.endswith(METADATA), message
    assert target.hits["/ok"] == 1
    never_left_loopback(connects)


# --- email and llm ---------------------------------------------------------------------------

MAIL = {"to": "ops@example.com", "subject": "s", "text": "t"}


def test_the_email_step_refuses_a_link_local_smtp_server(connects: list[str]) -> None:
    args = {**MAIL, "smtp": {"host": "metadata.test", "port": 2525, "security": "none"}}
    with pytest.raises(StepError) as caught:
        send(args, outbound=policy())
    assert caught.value.message == (
        "the SMTP server at metadata.test:2525: 169.254.169.254 (resolved from "
        f"metadata.test) {METADATA}"
    )
    assert caught.value.details == {"retryable": False}
    assert connects == []


def test_the_email_step_connects_to_the_checked_address_and_obeys_the_deny_list(
    connects: list[str], smtp: Smtp
) -> None:
    settings = {"host": "local.test", "port": smtp.port, "security": "none"}
    output, _logs = send({**MAIL, "smtp": settings}, outbound=policy())
    assert output["accepted"] == ["ops@example.com"]
    assert smtp.mailbox.one().message["Subject"] == "s"
    with pytest.raises(StepError) as caught:
        send({**MAIL, "smtp": smtp.settings}, outbound=policy(deny="127.0.0.0/8"))
    assert caught.value.message.endswith(
        ": 127.0.0.1 is in 127.0.0.0/8, refused by the outbound policy (FLOWDECK_OUTBOUND_DENY)"
    )
    assert len(smtp.mailbox.received) == 1
    never_left_loopback(connects)


def ask(base_url: str, outbound: OutboundPolicy) -> Any:
    async def go() -> Any:
        async with http_client(outbound) as client:
            step = {"id": "ask", "type": "llm"}
            step_run = StepRun("e", "ask", 1, client, step, outbound=outbound)
            return await run_llm({"model": "m", "prompt": "hi", "base_url": base_url}, step_run)

    return asyncio.run(go())


def test_the_llm_step_refuses_a_link_local_endpoint_and_obeys_the_deny_list(
    connects: list[str], llm: FakeLlm
) -> None:
    with pytest.raises(StepError) as caught:
        ask("http://metadata.test/v1", policy())
    assert caught.value.message == (
        "POST http://metadata.test/v1/chat/completions: 169.254.169.254 (resolved from "
        f"metadata.test) {METADATA}"
    )
    assert caught.value.details == {"retryable": False}
    with pytest.raises(StepError) as caught:
        ask(llm.base_url, policy(deny="127.0.0.0/8"))
    assert "127.0.0.1 is in 127.0.0.0/8, refused by the outbound policy" in caught.value.message
    assert llm.requests == []
    assert connects == []


# --- settings --------------------------------------------------------------------------------


def test_the_settings_make_the_policy_and_refuse_a_malformed_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    default = Settings().outbound_policy()
    assert [str(n) for n in default.deny] == ["169.254.0.0/16", "fe80::/10"]
    assert default.allow == ()
    assert default.refusal(ipaddress.ip_address("10.1.2.3")) is None
    made = Settings(outbound_deny="", outbound_allow="127.0.0.0/8, ::1").outbound_policy()
    assert made.deny == () and [str(n) for n in made.allow] == ["127.0.0.0/8", "::1/128"]
    for name, value, problem in [
        ("DENY", "169.254.0.0/16,10.0.0.1/8", "'10.0.0.1/8' is not an address or a network"),
        ("ALLOW", "localhost", "'localhost' is not an address or a network"),
    ]:
        monkeypatch.setenv(f"FLOWDECK_OUTBOUND_{name}", value)
        with pytest.raises(ConfigError) as caught:
            load_settings()
        assert str(caught.value).startswith(
            f"Invalid setting: FLOWDECK_OUTBOUND_{name}: {problem}"
        ), caught.value
        monkeypatch.delenv(f"FLOWDECK_OUTBOUND_{name}")


# --- through the engine ----------------------------------------------------------------------


def test_a_refused_step_fails_its_execution_once_though_it_may_retry(
    db_url: str, tmp_path: Path, connects: list[str]
) -> None:
    settings = Settings(database_url=db_url, data_dir=tmp_path)
    worker = WorkerSettings(concurrency=2, poll_interval=0.5, outbound=policy())
    with (
        running_server(create_app(settings, database_url=db_url, worker=worker)) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        engine = Api(client, db_url)
        step = {
            "id": "steal",
            "type": "http",
            "retry": {"attempts": 3, "backoff": "10ms"},
            "with": {"url": "http://metadata.test/latest/meta-data/iam"},
        }
        execution = run(engine, engine.person("ada"), {"steps": [step]})
    assert execution["status"] == "failed", execution
    assert execution["error"]["step"] == "steal"
    assert execution["error"]["message"].endswith(f"(resolved from metadata.test) {METADATA}")
    assert steps_of(execution)["steal"]["attempt"] == 1
    never_left_loopback(connects)


def test_a_worker_reads_the_policy_from_its_environment(
    api: Api, db_url: str, tmp_path: Path, target: Target
) -> None:
    ada = api.person("ada")
    made = api.post(
        "/api/workflows",
        ada,
        json={
            "name": "local",
            "definition": {
                "steps": [{"id": "call", "type": "http", "with": {"url": f"{target.url}/ok"}}]
            },
        },
    )
    assert made.status_code == 201, made.json()
    started = api.post(f"/api/workflows/{made.json()['id']}/executions", ada, json={})
    assert started.status_code == 201, started.json()
    env = flowdeck_env(database_url=db_url, data_dir=tmp_path, outbound_deny="127.0.0.0/8")
    worker = subprocess.Popen(
        [sys.executable, "-m", "flowdeck", "worker", "--no-supervisor"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        execution_id = UUID(started.json()["id"])
        assert wait_for_final(db_url, [execution_id]) == {execution_id: "failed"}
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    error: Mapping[str, Any] = api.get(f"/api/executions/{execution_id}", ada).json()["error"]
    assert error["message"].endswith(
        "127.0.0.1 is in 127.0.0.0/8, refused by the outbound policy (FLOWDECK_OUTBOUND_DENY)"
    ), error
    assert target.hits == {}

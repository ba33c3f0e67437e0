"""The outbound policy: which addresses the `http`, `email` and `llm` steps may connect to.

Users' definitions choose the URLs and mail servers steps talk to, so a definition could
point a step at the cloud metadata service (169.254.169.254, fe80::/10) and read the
host's credentials through it. The policy is checked on the address a step connects to,
after the name was resolved, never on the text of the URL: `http://2852039166/`,
`http://0251.0376.0251.0376/` and a name whose DNS record says 169.254.169.254 are all
the same address once resolved. A name is resolved once, every address it resolves to
is checked, and the connection goes to a checked address, so a DNS answer that changes
between the check and the connection (DNS rebinding) cannot slip past it.

Precedence (docs/operations.md, "Outbound policy"): an address in a deny network is
refused; otherwise, when the allow list is set, only addresses in it are permitted;
otherwise everything is. Loopback and private networks are permitted by default: a
self-hosted Flowdeck automates its owner's own services.

Hand-written on the standard library's `ipaddress`: the libraries that do this
(advocate, for one) wrap `requests`, not httpx, and none covers SMTP.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> every address the host resolves to, in the order to try them.
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]

DENY_SETTING = "FLOWDECK_OUTBOUND_DENY"
ALLOW_SETTING = "FLOWDECK_OUTBOUND_ALLOW"
DEFAULT_DENY = "169.254.0.0/16,fe80::/10"  # link-local: where cloud metadata services live


class OutboundRefused(Exception):
    """A step may not connect to `address`; the message names the rule and the setting.

    A refusal is permanent (the same name resolves to the same place, the policy does not
    change while a worker runs), so steps report it as an error that is not retried.
    """

    def __init__(self, host: str, address: IPAddress, reason: str) -> None:
        literal = _is_literal(host)
        where = str(address) if literal else f"{address} (resolved from {host})"
        super().__init__(f"{where} {reason}")
        self.host = host
        self.address = address


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """The networks of a comma-separated setting; ValueError names the one that is wrong."""
    networks: list[IPNetwork] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            # strict: "10.0.0.1/8" is more likely a typo than a wish for 10.0.0.0/8.
            networks.append(ipaddress.ip_network(item, strict=True))
        except ValueError as exc:
            raise ValueError(
                f"{item!r} is not an address or a network such as 169.254.0.0/16 or "
                f"fe80::/10 ({exc})"
            ) from None
    return tuple(networks)


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """What the operating system's resolver says, as getaddrinfo orders it (IPs as given)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


@dataclass(frozen=True)
class OutboundPolicy:
    """The deny and allow networks, and the resolver that turns names into addresses."""

    deny: tuple[IPNetwork, ...] = field(default_factory=lambda: parse_networks(DEFAULT_DENY))
    allow: tuple[IPNetwork, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False)

    def refusal(self, address: IPAddress) -> str | None:
        """Why a step may not connect to `address`, or None when it may."""
        forms = _forms(address)
        for network in self.deny:
            if any(_within(form, network) for form in forms):
                return f"is in {network}, refused by the outbound policy ({DENY_SETTING})"
        if self.allow and not any(_within(f, n) for f in forms for n in self.allow):
            listed = ", ".join(map(str, self.allow))
            return (
                f"is not in {listed}, refused by the outbound policy ({ALLOW_SETTING} "
                "permits only these)"
            )
        return None

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address `host` resolves to, all checked: raise OutboundRefused if any is
        refused (a name that also points somewhere forbidden is not trusted for the rest),
        OSError if there is none."""
        addresses = list(await self.resolver(host, port))
        if not addresses:
            raise OSError(f"{host} resolves to no address")
        for address in addresses:
            reason = self.refusal(address)
            if reason is not None:
                raise OutboundRefused(host, address, reason)
        return addresses

    async def connect(self, host: str, port: int) -> socket.socket:
        """A TCP socket connected to a checked address of `host` (tried in order).

        Raise OutboundRefused before any connection is tried, or the OSError of the last
        address tried. The caller bounds the time with asyncio.timeout."""
        loop = asyncio.get_running_loop()
        failure: OSError = OSError(f"could not connect to {host} port {port}")
        for address in await self.resolve(host, port):
            family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, (str(address), port))
            except BaseException as exc:  # cancelled (a timeout) included: no socket leaks
                sock.close()
                if not isinstance(exc, OSError):
                    raise
                failure = exc
            else:
                return sock
        raise failure


def http_client(policy: OutboundPolicy) -> httpx.AsyncClient:
    """The client the `http` and `llm` steps share: every connection it opens, redirects
    included, goes through the policy.

    With a transport of its own httpx ignores HTTP_PROXY and friends: a proxy would choose
    where requests go, out of the policy's sight, so steps connect directly.
    """
    return httpx.AsyncClient(transport=_CheckedTransport(policy), follow_redirects=True)


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's socket layer, resolving and checking before it connects.

    This is the one place every connection of the client is made, whatever the request
    (a redirect's next hop, a new connection of the pool), and it receives the host the
    URL named: it connects to a checked address of it, while httpcore still gives TLS
    the name (SNI and certificate check) and the request its Host header. Rewriting
    URLs to addresses one layer up would need the same for redirects and the pool.
    """

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._policy.resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:  # a name that does not resolve: as httpcore reports it
            raise httpcore.ConnectError(str(exc)) from exc
        failure: Exception = httpcore.ConnectError(f"could not connect to {host}")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ARG002, ASYNC109 (httpcore's signature)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,  # noqa: ARG002
    ) -> httpcore.AsyncNetworkStream:
        # The step client is never given a socket path; one the policy cannot see is refused.
        raise httpcore.ConnectError(f"{path}: Unix sockets are not for steps")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the checked backend under its connection pool.

    httpx takes no network backend, but its transport is a thin adapter over an httpcore
    pool that does: the pool is rebuilt with httpx's defaults and our backend, and httpx
    keeps doing the request and response conversion and error mapping.
    """

    def __init__(self, policy: OutboundPolicy) -> None:
        super().__init__()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,  # httpx's default limits
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_CheckedBackend(policy),
        )


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _forms(address: IPAddress) -> list[IPAddress]:
    """The addresses a connection to `address` really reaches, for the check.

    An IPv4-mapped IPv6 address (::ffff:169.254.169.254) is its IPv4 address on a dual-stack
    socket; the unspecified address (0.0.0.0, ::) reaches this host, like loopback, so a
    deny of 127.0.0.0/8 or ::1 covers it.
    """
    forms: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        forms.append(address.ipv4_mapped)
    for form in list(forms):
        if form.is_unspecified:
            loopback = "127.0.0.1" if form.version == 4 else "::1"
            forms.append(ipaddress.ip_address(loopback))
    return forms


def _within(address: IPAddress, network: IPNetwork) -> bool:
    return address.version == network.version and address in network

"""Who the client is: its address, and whether it reached us over HTTPS.

Used by the API and the pages alike (sign-in throttling, the session cookie's Secure
flag). Without trusted proxies the answer is the TCP peer and the connection's own
scheme. When the peer is one of FLOWDECK_TRUSTED_PROXIES, `X-Forwarded-For` is read
from the right: each proxy appends the address it was reached from, so the right-most
address that is not itself a trusted proxy is the client (everything left of it may
have been written by the client). `X-Forwarded-Proto` is believed from a trusted peer
only, its right-most value (the one our proxy wrote, should the client have sent one).

uvicorn's own proxy-header handling (which trusts 127.0.0.1 by default) is turned off
where Flowdeck starts uvicorn, so that this is the one place that decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from fastapi import Request

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


@dataclass(frozen=True)
class Origin:
    """The client of a request: its address (None when unknown) and its scheme."""

    address: IPAddress | None
    https: bool


def _parse(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.partition(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, proxies: Sequence[Network]) -> bool:
    return any(address in network for network in proxies)


def _values(headers: Sequence[str]) -> list[str]:
    """Every comma-separated value of a header that may be sent several times."""
    return [part.strip() for header in headers for part in header.split(",") if part.strip()]


def resolve(
    peer: str | None,
    scheme: str,
    forwarded_for: Sequence[str],
    forwarded_proto: Sequence[str],
    proxies: Sequence[Network],
) -> Origin:
    """The client, from the TCP peer, the connection's scheme and the forwarding headers."""
    direct = _parse(peer) if peer else None
    https = scheme in ("https", "wss")
    if direct is None or not _trusted(direct, proxies):
        return Origin(direct, https)
    client: IPAddress = direct
    for hop in reversed(_values(forwarded_for)):
        address = _parse(hop)
        if address is None:
            break  # not written by a proxy of ours: stop at the last trusted hop
        client = address
        if not _trusted(address, proxies):
            break
    protos = _values(forwarded_proto)
    if protos:
        https = protos[-1].lower() == "https"
    return Origin(client, https)


def origin(request: Request) -> Origin:
    """The client of `request`, by the app's FLOWDECK_TRUSTED_PROXIES."""
    peer = request.client.host if request.client is not None else None
    return resolve(
        peer,
        request.url.scheme,
        request.headers.getlist("x-forwarded-for"),
        request.headers.getlist("x-forwarded-proto"),
        request.app.state.settings.trusted_proxies,
    )

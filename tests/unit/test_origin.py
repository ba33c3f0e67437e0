"""Who the client is: X-Forwarded-For and X-Forwarded-Proto count only from a trusted proxy."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

from flowdeck.http.origin import Origin, resolve

PROXIES = (ip_network("10.0.0.0/8"), ip_network("fd00::/8"))


def test_without_a_trusted_peer_the_headers_are_ignored() -> None:
    got = resolve("203.0.113.5", "http", ["198.51.100.1"], ["https"], PROXIES)
    assert got == Origin(ip_address("203.0.113.5"), https=False)
    assert resolve("10.0.0.2", "https", ["198.51.100.1"], [], ()).address == ip_address("10.0.0.2")


def test_the_right_most_address_that_is_not_a_proxy_is_the_client() -> None:
    # The client wrote 192.0.2.66 itself; our proxies added 198.51.100.1 and 10.1.1.1.
    got = resolve("10.0.0.2", "http", ["192.0.2.66, 198.51.100.1", "10.1.1.1"], [], PROXIES)
    assert got.address == ip_address("198.51.100.1")


def test_only_proxies_in_the_chain_leaves_the_left_most() -> None:
    got = resolve("10.0.0.2", "http", ["10.9.9.9, 10.1.1.1"], [], PROXIES)
    assert got.address == ip_address("10.9.9.9")


def test_a_garbled_hop_stops_at_the_last_trusted_one() -> None:
    got = resolve("10.0.0.2", "http", ["198.51.100.1, unknown, 10.1.1.1"], [], PROXIES)
    assert got.address == ip_address("10.1.1.1")


def test_ports_brackets_and_mapped_addresses() -> None:
    assert resolve("10.0.0.2", "http", ["[2001:db8::1]:443"], [], PROXIES).address == ip_address(
        "2001:db8::1"
    )
    assert resolve("10.0.0.2", "http", ["192.0.2.1:5000"], [], PROXIES).address == ip_address(
        "192.0.2.1"
    )
    assert resolve("::ffff:10.0.0.2", "http", ["192.0.2.1"], [], PROXIES).address == ip_address(
        "192.0.2.1"
    )


def test_https_from_the_connection_or_from_a_trusted_proxy() -> None:
    assert resolve("203.0.113.5", "https", [], [], PROXIES).https
    assert resolve("10.0.0.2", "http", [], ["https"], PROXIES).https
    # A client's own "https" before the value our proxy wrote does not count.
    assert not resolve("10.0.0.2", "http", [], ["https, http"], PROXIES).https
    assert not resolve(None, "http", ["192.0.2.1"], ["https"], PROXIES).https

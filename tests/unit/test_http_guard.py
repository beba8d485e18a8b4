"""The address guard, checked on addresses without connecting anywhere."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from ingest.http import (
    AddressRefused,
    GuardedBackend,
    PerHostTransport,
    address_allowed,
    check_addresses,
    make_client,
)
from schemas.settings import load_settings

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "fe80::1",
        "fc00::1",
        "224.0.0.1",
        "ff02::1",
        "0.0.0.0",
        "100.64.0.1",  # carrier-grade NAT
        "192.0.2.10",  # documentation
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
    ],
)
def test_non_global_addresses_are_refused(address: str) -> None:
    assert not address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_global_addresses_are_allowed(address: str) -> None:
    assert address_allowed(ipaddress.ip_address(address))


def test_allow_list_opens_only_its_networks() -> None:
    assert address_allowed(ipaddress.ip_address("127.0.0.1"), LOOPBACK)
    assert address_allowed(ipaddress.ip_address("::ffff:127.0.0.1"), LOOPBACK)
    assert not address_allowed(ipaddress.ip_address("::1"), LOOPBACK)
    assert not address_allowed(ipaddress.ip_address("10.0.0.1"), LOOPBACK)


def test_a_name_is_refused_if_no_address_is_allowed() -> None:
    with pytest.raises(AddressRefused) as info:
        check_addresses("evil.example", ["10.0.0.5", "169.254.169.254"], [])
    assert "169.254.169.254" in str(info.value)
    assert info.value.reason == "address_refused"


def test_the_allowed_address_is_the_one_connected_to() -> None:
    # A name resolving to a private and a public address connects to the public one only.
    assert check_addresses("mixed.example", ["10.0.0.5", "93.184.216.34"], []) == "93.184.216.34"


def test_client_uses_the_guarded_backend() -> None:
    """Pins the httpx internals the guard relies on: an upgrade that moves them fails here."""
    client = make_client(load_settings())
    try:
        transport = client._transport
        assert isinstance(transport, PerHostTransport)
        pool = transport.pool_for(httpx.URL("http://example.org/a"))
        assert isinstance(pool, httpx.AsyncHTTPTransport)
        assert isinstance(pool._pool._network_backend, GuardedBackend)
        # one pool per origin, reused for the same origin
        assert transport.pool_for(httpx.URL("http://example.org/b")) is pool
        assert transport.pool_for(httpx.URL("http://example.net/a")) is not pool
    finally:
        import asyncio

        asyncio.run(client.aclose())

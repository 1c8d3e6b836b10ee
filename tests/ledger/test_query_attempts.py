"""Who the progress query's per-client limit counts as one client (lianban.ledger.query_attempts.client_scope):
an IPv4 address, or a whole IPv6 /64, however the address is written."""

from __future__ import annotations

from lianban.ledger.query_attempts import client_scope

KEY = b"i" * 32


def scope(address: str) -> str:
    return client_scope(KEY, address)


def test_addresses_in_one_ipv6_slash_64_are_one_client() -> None:
    assert scope("2001:db8:1:2::1") == scope("2001:db8:1:2:ffff:ffff:ffff:fffe") == scope("2001:DB8:1:2:0:0:0:7")
    assert scope("2001:db8:1:2::1") != scope("2001:db8:1:3::1")  # the next /64: another subscriber
    assert "2001" not in scope("2001:db8:1:2::1")  # stored as a blind index, not the block


def test_ipv4_addresses_are_each_their_own_client() -> None:
    assert scope("192.0.2.1") != scope("192.0.2.2")
    assert scope("::ffff:192.0.2.1") == scope("192.0.2.1")  # the same IPv4 client, written as IPv6


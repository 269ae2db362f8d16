"""The limiter every door shares for connections not signed in yet: the cap per client
address, the sign-in deadline on one timer, and its configuration."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from mailgate import config
from mailgate.config import ConfigError
from mailgate.protocols.preauth import PreauthLimiter, client_address


def never() -> None:
    raise AssertionError("no deadline should pass here")


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0::1", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("", ""),
    ],
)
def test_a_peer_is_counted_under_its_plain_address(peer: str, address: str) -> None:
    assert client_address(peer) == address


async def test_the_cap_counts_each_address_alone_and_ipv4_mapped_as_ipv4() -> None:
    limiter = PreauthLimiter(signin_deadline=60, max_per_address=2)
    first = limiter.admit("192.0.2.7", never)
    second = limiter.admit("::ffff:192.0.2.7", never)
    assert first is not None and second is not None
    assert limiter.admit("192.0.2.7", never) is None
    assert limiter.admit("192.0.2.8", never) is not None
    first.signed_in()
    third = limiter.admit("192.0.2.7", never)
    assert third is not None
    second.closed()
    second.closed()  # leaving twice frees one slot only
    assert limiter.admit("192.0.2.7", never) is not None
    assert limiter.admit("192.0.2.7", never) is None


async def test_only_connections_still_unauthenticated_reach_their_deadline() -> None:
    limiter = PreauthLimiter(signin_deadline=0.3, max_per_address=10)
    passed: dict[str, float] = {}
    started = time.monotonic()

    def note(name: str) -> None:
        passed[name] = time.monotonic() - started

    signs_in = limiter.admit("192.0.2.1", never)
    leaves = limiter.admit("192.0.2.1", never)
    limiter.admit("192.0.2.1", lambda: note("slow"))
    assert signs_in is not None and leaves is not None
    await asyncio.sleep(0.1)
    limiter.admit("192.0.2.2", lambda: note("later"))
    signs_in.signed_in()
    leaves.closed()
    deadline = time.monotonic() + 10
    while len(passed) < 2:
        assert time.monotonic() < deadline, passed
        await asyncio.sleep(0.01)
    assert list(passed) == ["slow", "later"]
    assert passed["slow"] >= 0.3 and passed["later"] >= 0.4
    assert limiter.admit("192.0.2.1", never) is not None  # the expired slot is free again


async def test_a_failing_deadline_callback_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = PreauthLimiter(signin_deadline=0.05, max_per_address=10)
    done = asyncio.Event()

    def broken() -> None:
        raise RuntimeError("boom")

    limiter.admit("192.0.2.1", broken)
    limiter.admit("192.0.2.1", done.set)
    await asyncio.wait_for(done.wait(), 10)
    assert "sign-in deadline failed" in caplog.text


def test_init_documents_the_keys_and_serve_reads_them(tmp_path: Path) -> None:
    text = config.write_default(tmp_path, "example.test").read_text()
    assert "# A connection not signed in this many seconds after it opened is closed" in text
    assert "\nsignin_deadline_seconds = 60\n" in text
    assert "\nmax_unauthenticated_per_address = 10\n" in text
    limiter = PreauthLimiter.from_settings(config.load(tmp_path, environ={}))
    assert (limiter.signin_deadline, limiter.max_per_address) == (60.0, 10)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("signin_deadline_seconds", "0"),
        ("signin_deadline_seconds", "-5"),
        ("max_unauthenticated_per_address", "0"),
    ],
)
def test_a_useless_value_is_a_config_error_naming_the_key(
    tmp_path: Path, key: str, value: str
) -> None:
    settings = config.load(tmp_path, environ={f"MAILGATE_AUTH_{key.upper()}": value})
    with pytest.raises(ConfigError, match=f"auth.{key}"):
        PreauthLimiter.from_settings(settings)

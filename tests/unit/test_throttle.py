"""The failed sign-in throttle on a fake clock: free failures, a doubling delay with a cap,
both the account and the client address counting, forgetting, and bounded memory."""

from __future__ import annotations

import pytest

from mailgate.auth.throttle import FIRST_DELAY, FORGET_AFTER, SigninThrottle
from mailgate.config import ConfigError, load


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def throttle(clock: FakeClock, free: int = 3, cap: float = 3.0, **kw: int) -> SigninThrottle:
    return SigninThrottle(free, cap, clock=clock, **kw)


def test_the_first_failures_cost_nothing_then_the_delay_doubles_up_to_the_cap(clock) -> None:
    limiter = throttle(clock)
    delays = []
    for _ in range(10):
        delays.append(limiter.delay("ana@example.test", "192.0.2.1"))
        limiter.failed("ana@example.test", "192.0.2.1")
    assert delays == [0, 0, 0, 0, FIRST_DELAY, 2 * FIRST_DELAY, 4 * FIRST_DELAY,
                      8 * FIRST_DELAY, 3.0, 3.0]


def test_spraying_many_accounts_from_one_address_slows_that_address(clock) -> None:
    limiter = throttle(clock)
    for n in range(5):
        limiter.failed(f"user{n}@example.test", "192.0.2.7")
    assert limiter.delay("another@example.test", "192.0.2.7") == 2 * FIRST_DELAY
    assert limiter.delay("another@example.test", "192.0.2.8") == 0  # not other addresses


def test_guessing_one_account_from_many_addresses_slows_that_account(clock) -> None:
    limiter = throttle(clock)
    for n in range(5):
        limiter.failed("Ana@Example.test ", f"192.0.2.{n}")
    assert limiter.delay("ana@example.test", "198.51.100.1") == 2 * FIRST_DELAY
    assert limiter.delay("ben@example.test", "198.51.100.1") == 0


def test_ipv4_mapped_addresses_count_as_their_ipv4_address(clock) -> None:
    limiter = throttle(clock, free=0)
    limiter.failed("a@example.test", "::ffff:192.0.2.9")
    assert limiter.delay("b@example.test", "192.0.2.9") == FIRST_DELAY


def test_failures_are_forgotten_after_a_quiet_while(clock) -> None:
    limiter = throttle(clock, free=0)
    for _ in range(4):
        limiter.failed("ana@example.test", "192.0.2.1")
    clock.now += FORGET_AFTER - 1
    assert limiter.delay("ana@example.test", "192.0.2.1") == 8 * FIRST_DELAY
    clock.now += 1
    assert limiter.delay("ana@example.test", "192.0.2.1") == 0
    limiter.failed("ana@example.test", "192.0.2.1")  # counts from scratch again
    assert limiter.delay("ana@example.test", "192.0.2.1") == FIRST_DELAY


def test_a_right_password_forgives_the_account_but_not_the_address(clock) -> None:
    limiter = throttle(clock, free=0)
    limiter.failed("ana@example.test", "192.0.2.1")
    limiter.failed("mallory@example.test", "192.0.2.1")
    limiter.succeeded("mallory@example.test")
    assert limiter.delay("mallory@example.test", "198.51.100.1") == 0
    assert limiter.delay("mallory@example.test", "192.0.2.1") == 2 * FIRST_DELAY


def test_memory_is_bounded_by_dropping_the_oldest_keys(clock) -> None:
    limiter = throttle(clock, free=0, max_keys=4)
    limiter.failed("old@example.test", "192.0.2.1")
    for n in range(2, 4):
        clock.now += 1
        limiter.failed(f"new{n}@example.test", f"192.0.2.{n}")
    assert limiter.delay("old@example.test", "198.51.100.1") == 0
    assert limiter.delay("new3@example.test", "198.51.100.1") == FIRST_DELAY


def test_a_cap_of_zero_turns_throttling_off(clock) -> None:
    limiter = throttle(clock, free=0, cap=0)
    for _ in range(5):
        limiter.failed("ana@example.test", "192.0.2.1")
    assert limiter.delay("ana@example.test", "192.0.2.1") == 0


def test_settings_are_read_and_checked(tmp_path) -> None:
    limiter = SigninThrottle.from_settings(load(tmp_path, {}))
    assert (limiter.free_failures, limiter.max_delay) == (5, 3.0)
    bad = load(tmp_path, {"MAILGATE_AUTH_THROTTLE_MAX_DELAY_MS": "-1"})
    with pytest.raises(ConfigError, match="throttle_max_delay_ms"):
        SigninThrottle.from_settings(bad)

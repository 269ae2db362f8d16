"""Failed sign-in throttling for every door: a progressive, capped delay per account and per
client address.

The gate asks `delay(account, peer)` before it checks a password (or app password) and waits
that long; it reports each wrong one with `failed` and each right one with `succeeded`. Both
the account named and the client address count failures: many accounts tried from one
address (password spraying) slow that address down, one account tried from many addresses
(guessing) slows that account down. The first `free_failures` failures of a key cost
nothing (a user mistyping); each further one doubles the delay from `FIRST_DELAY`, up to
`max_delay`, so an attacker can never lock anyone out, only slow password guessing down. A
key's failures are forgotten `FORGET_AFTER` seconds after its last one; a right password
forgets the account's (not the address's: an attacker with an account of their own must not
reset their address by signing in with it). The answer after the delay is the door's usual
one, so the delay tells an attacker nothing about the account. Bearer tokens are not checked
here at all: a token sign-in is never slowed by password failures.

The delay comes before the check, not after a failure only, so a client cannot tell a right
password from a wrong one by how soon the answer comes. Parallel guessing from one address is
bounded by the per-address cap on unauthenticated connections (`protocols.preauth`).

The state lives in this server process, like the pre-sign-in limiter: it is an extra cost on
guessing, not a security boundary (passwords are argon2id, tokens and app passwords cannot be
guessed), and SPEC/DESIGN keep correctness off any shared cache. Several nodes behind one
name each throttle on their own, so an attacker gains at most the number of nodes as a factor.
Memory is bounded: the least recently failed keys are dropped past `max_keys`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from mailgate.config import ConfigError, Settings
from mailgate.protocols.preauth import client_address

#: The delay after the first failure past the free ones; it doubles with each further one.
FIRST_DELAY = 0.25
#: A key's failures are forgotten this long after its last one.
FORGET_AFTER = 15 * 60.0
#: Keys (accounts and addresses) remembered at most.
MAX_KEYS = 100_000


@dataclass
class _Failures:
    count: int
    last: float


class SigninThrottle:
    """Failed password sign-ins of this process, per account and per client address."""

    def __init__(self, free_failures: int, max_delay: float,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        self.free_failures = free_failures
        self.max_delay = max_delay
        self._clock = clock
        self._max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], _Failures] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> SigninThrottle:
        free = settings.get("auth", "throttle_free_failures")
        cap = settings.get("auth", "throttle_max_delay_ms")
        for key, value in (("throttle_free_failures", free), ("throttle_max_delay_ms", cap)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"auth.{key}: expected a whole number of at least 0, "
                                  f"got {value!r}")
        return cls(free, cap / 1000)

    def delay(self, account: str, peer: str) -> float:
        """Seconds to wait before checking a password for `account` from `peer`."""
        now = self._clock()
        worst = max(self._count(key, now) for key in _keys(account, peer))
        past_free = worst - self.free_failures
        if past_free <= 0 or self.max_delay <= 0:
            return 0.0
        return min(self.max_delay, FIRST_DELAY * 2 ** min(past_free - 1, 32))

    def failed(self, account: str, peer: str) -> None:
        """A wrong password (or an unknown account) for `account` from `peer`."""
        now = self._clock()
        for key in _keys(account, peer):
            entry = self._failures.pop(key, None)
            count = self._count_of(entry, now)
            self._failures[key] = _Failures(count + 1, now)
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, account: str) -> None:
        """A right password for `account`: its own failures are forgiven."""
        self._failures.pop(_account_key(account), None)

    def _count(self, key: tuple[str, str], now: float) -> int:
        return self._count_of(self._failures.get(key), now)

    @staticmethod
    def _count_of(entry: _Failures | None, now: float) -> int:
        if entry is None or now - entry.last >= FORGET_AFTER:
            return 0
        return entry.count


def _account_key(account: str) -> tuple[str, str]:
    return ("account", account.strip().lower()[:320])


def _keys(account: str, peer: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return _account_key(account), ("address", client_address(peer))

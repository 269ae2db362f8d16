"""Connections that have not signed in yet, for every door: a deadline and a cap per address.

A listener calls `PreauthLimiter.admit(peer, on_deadline)` when a client connects. When
`max_per_address` unauthenticated connections from that address are open already it gets
None: it says so in its protocol's words and closes. Otherwise the `Admission` holds one of
the address's slots until the connection signs in (`signed_in()`) or ends (`closed()`),
whichever comes first. A connection still unauthenticated `signin_deadline` seconds after it
was admitted has `on_deadline()` called, however busy the client keeps it (one byte a second
cannot hold it forever): the listener answers and closes.

One limiter per server, shared by every door, so the cap counts a client's unauthenticated
connections to all of them. One timer serves every deadline of the server: all admissions
get the same length of time, so they fall due in the order they were made, and the timer
only ever looks at the oldest ones (no timer and no scan per connection).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import OrderedDict
from collections.abc import Callable

from mailgate import metrics
from mailgate.config import ConfigError, Settings

logger = logging.getLogger("mailgate.preauth")

#: How late a deadline may be enforced, at most: deadlines that fall due within this much
#: of each other are handled by one wake-up of the timer.
_MAX_LATENESS = 1.0


class Admission:
    """One admitted connection's place among the unauthenticated ones."""

    __slots__ = ("_limiter", "address", "deadline")

    def __init__(self, limiter: PreauthLimiter, address: str, deadline: float) -> None:
        self._limiter = limiter
        self.address = address
        self.deadline = deadline  # in the event loop's time()

    def signed_in(self) -> None:
        """The connection signed in: it leaves the unauthenticated pool, and its deadline."""
        self._limiter._leave(self)

    def closed(self) -> None:
        """The connection ended; harmless when it has left the pool already."""
        self._limiter._leave(self)


class PreauthLimiter:
    """The unauthenticated connections of one server, across every door."""

    def __init__(self, signin_deadline: float, max_per_address: int) -> None:
        self.signin_deadline = signin_deadline
        self.max_per_address = max_per_address
        self._lateness = min(_MAX_LATENESS, signin_deadline / 10)
        self._per_address: dict[str, int] = {}
        # admission -> its on_deadline, oldest first. Only the limiter holds the callback,
        # so a connection and its admission never form a reference cycle.
        self._waiting: OrderedDict[Admission, Callable[[], None]] = OrderedDict()
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> PreauthLimiter:
        deadline = settings.get("auth", "signin_deadline_seconds")
        cap = settings.get("auth", "max_unauthenticated_per_address")
        if isinstance(deadline, bool) or not isinstance(deadline, int | float) or deadline <= 0:
            raise ConfigError(f"auth.signin_deadline_seconds: expected a number of seconds "
                              f"above 0, got {deadline!r}")
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise ConfigError(f"auth.max_unauthenticated_per_address: expected a whole "
                              f"number of at least 1, got {cap!r}")
        return cls(float(deadline), cap)

    def admit(self, peer: str, on_deadline: Callable[[], None]) -> Admission | None:
        """A new connection from `peer`: its admission, or None when its address has
        `max_per_address` unauthenticated connections open already."""
        address = client_address(peer)
        held = self._per_address.get(address, 0)
        if held >= self.max_per_address:
            metrics.UNAUTHENTICATED_CLOSED.labels(cause="per_address_cap").inc()
            return None
        self._per_address[address] = held + 1
        loop = asyncio.get_running_loop()
        admission = Admission(self, address, loop.time() + self.signin_deadline)
        self._waiting[admission] = on_deadline
        if self._timer is None:
            self._wake_at(loop, admission.deadline)
        return admission

    def _leave(self, admission: Admission) -> None:
        if admission not in self._waiting:
            return  # left already
        del self._waiting[admission]
        held = self._per_address[admission.address] - 1
        if held:
            self._per_address[admission.address] = held
        else:
            del self._per_address[admission.address]

    def _wake_at(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        self._timer = loop.call_at(deadline + self._lateness, self._expire, loop)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        """Call on_deadline for every admission due; sleep until the next one falls due."""
        self._timer = None
        now = loop.time()
        while self._waiting:
            oldest, on_deadline = next(iter(self._waiting.items()))
            if oldest.deadline > now:
                self._wake_at(loop, oldest.deadline)
                return
            self._leave(oldest)
            metrics.UNAUTHENTICATED_CLOSED.labels(cause="signin_deadline").inc()
            try:
                on_deadline()
            except Exception:
                logger.exception("closing a connection at its sign-in deadline failed")


def client_address(peer: str) -> str:
    """The address a peer is counted under: IPv4-mapped IPv6 as IPv4, no zone index."""
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return peer
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)

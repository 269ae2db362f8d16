"""Who an envelope recipient is: one of our accounts, nobody here, or another domain.

Local domains are the server's own (`server.domain`) and every domain an account lives in.
Inbound mail is never gated by the recipient's doors (SPEC §1): locked and compromised
accounts receive; only an unknown or deactivated account is refused (5.1.1).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, exists, select

from mailgate.db.schema import accounts
from mailgate.directory.views import effective_state, find_account
from mailgate.protocols.smtp.addresses import candidates, domain_of


@dataclass(frozen=True)
class Local:
    """A recipient this server keeps mail for."""

    address: str  # as the envelope named it
    account_id: int
    account: str  # the account's own address (sub-address resolved)


@dataclass(frozen=True)
class Unknown:
    """A local domain, but no such (or a deactivated) mailbox."""


@dataclass(frozen=True)
class Remote:
    """Another domain: relaying."""

    domain: str


Verdict = Local | Unknown | Remote


def is_local_domain(conn: Connection, domain: str, own_domain: str) -> bool:
    if domain == own_domain.lower():
        return True
    return bool(conn.execute(select(exists().where(
        accounts.c.address.like(f"%@{domain}")))).scalar())


def classify(conn: Connection, address: str, own_domain: str, now: float) -> Verdict:
    """What receiving mail for `address` means (a malformed address is Unknown)."""
    names = candidates(address)
    domain = domain_of(address)
    if not names or not is_local_domain(conn, domain, own_domain):
        return Remote(domain) if names else Unknown()
    for name in names:
        row = find_account(conn, name)
        if row is not None:
            if effective_state(row, now) == "deactivated":
                return Unknown()
            return Local(address, int(row.id), str(row.address))
    return Unknown()



class KnownRecipients:
    """The `Local` verdicts of the last second: a burst of deliveries to one mailbox looks
    it up once, without a trip to a thread for each RCPT.

    Only `Local` is kept, so an account created a moment ago is never refused from memory.
    The delivery's own transaction checks every recipient again (`delivery`), so one
    deactivated meanwhile is still refused (5.1.1) after DATA."""

    TTL = 1.0
    MOST = 10_000  # addresses kept at most; past it the memory starts again

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._found: dict[str, tuple[float, Local]] = {}

    def get(self, address: str) -> Local | None:
        found = self._found.get(address)
        if found is None:
            return None
        if found[0] <= self._clock():
            del self._found[address]
            return None
        return found[1]

    def keep(self, verdict: Verdict) -> None:
        if not isinstance(verdict, Local):
            return
        if len(self._found) >= self.MOST:
            self._found.clear()
        self._found[verdict.address] = (self._clock() + self.TTL, verdict)

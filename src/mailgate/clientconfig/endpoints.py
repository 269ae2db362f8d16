"""Which doors a client is offered, and where they are.

A door is offered when the access decision opens it — for one account whose credentials were
proven, or, for a request that proves nothing (an unknown address, no credentials), for a new
account on the built-in plan `standard` ("server defaults"), so the answer never tells whether
an address exists or how its doors differ from the defaults. Where a door is reached comes from
`[listen]` (the port; a listener turned off offers nothing) and `server.hostname` (the name
clients connect to, since listeners usually bind loopback or a wildcard address).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Row, select

from mailgate.config import Settings
from mailgate.db.schema import accounts, plan_defaults, plans
from mailgate.directory.views import policy_view
from mailgate.policy.decision import PolicyView, decide
from mailgate.service import Service

#: the plan of a new account (`account create` without --plan)
DEFAULT_PLAN = "standard"

#: door -> its listeners, preferred first: (listener, kind, socket type)
LISTENERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "imap": (("imaps", "imap", "SSL"), ("imap", "imap", "STARTTLS")),
    "pop": (("pop3s", "pop3", "SSL"), ("pop3", "pop3", "STARTTLS")),
    "smtp": (("submissions", "smtp", "SSL"), ("submission", "smtp", "STARTTLS")),
}
MAIL_DOORS = tuple(LISTENERS)


@dataclass(frozen=True)
class Endpoint:
    """One place a door is reached: `kind` imap | pop3 | smtp, `socket` SSL | STARTTLS."""

    door: str
    listener: str
    kind: str
    host: str
    port: int
    socket: str


def endpoints(settings: Settings, doors: frozenset[str]) -> list[Endpoint]:
    """The listening endpoints of `doors`, in door order, each door's preferred first."""
    host = str(settings.get("server", "hostname"))
    found = []
    for door, listeners in LISTENERS.items():
        if door not in doors:
            continue
        for listener, kind, socket in listeners:
            bound = settings.listener(listener)
            if bound is not None:
                found.append(Endpoint(door, listener, kind, host, bound[1], socket))
    return found


def preferred(found: list[Endpoint], door: str) -> Endpoint | None:
    """The first endpoint of a door (implicit TLS when that listener is on)."""
    return next((e for e in found if e.door == door), None)


def default_doors(conn: Connection, now: float) -> frozenset[str]:
    """The mail doors open for a new account on the default plan."""
    defaults = {r.protocol: bool(r.enabled) for r in conn.execute(
        select(plan_defaults.c.protocol, plan_defaults.c.enabled)
        .join(plans, plans.c.id == plan_defaults.c.plan_id)
        .where(plans.c.name == DEFAULT_PLAN))}
    view = PolicyView(address="", state="active", plan=DEFAULT_PLAN, plan_defaults=defaults)
    return frozenset(d for d in MAIL_DOORS if decide(view, d, now).allowed)


def account_doors(conn: Connection, row: Row, now: float) -> frozenset[str]:
    """The mail doors open for this account now (its credentials were proven)."""
    view = policy_view(conn, row, now)
    return frozenset(d for d in MAIL_DOORS if decide(view, d, now).allowed)


def offered(svc: Service, account_id: int | None) -> list[Endpoint]:
    """The endpoints offered to one account (its credentials proven), or, for None, to a
    new account on the default plan."""
    now = svc.clock()
    with svc.reader.connect() as conn:
        row = None if account_id is None else conn.execute(
            select(accounts).where(accounts.c.id == account_id)).first()
        doors = default_doors(conn, now) if row is None else account_doors(conn, row, now)
    return endpoints(svc.settings, doors)

"""An account's own recent sign-in attempts, from the audit log (SPEC §9), so its owner can
spot one that was not theirs: door, method, client address, client id, time, result. The
owner or staff may read them (unlike the rest of the log, which is staff's)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from mailgate.db.schema import audit_log
from mailgate.directory import authority
from mailgate.directory.authority import Actor
from mailgate.directory.views import account_row
from mailgate.service import Service

#: how many attempts a page shows at most, newest first
LIMIT = 200


@dataclass(frozen=True)
class SignIn:
    at: float
    protocol: str
    method: str
    peer: str
    client_id: str | None
    allowed: bool
    reason: str


def recent(svc: Service, actor: Actor, address: str, limit: int = LIMIT) -> list[SignIn]:
    """The newest `limit` sign-in attempts on the account, newest first (one indexed
    query: `ix_audit_account`)."""
    with svc.reader.connect() as conn:
        row = account_row(conn, address)
        authority.require_view(actor, row.id, "see this account's sign-ins")
        rows = conn.execute(select(audit_log.c.at, audit_log.c.details)
                            .where(audit_log.c.account == row.address,
                                   audit_log.c.action == "signin")
                            .order_by(audit_log.c.id.desc()).limit(limit)).all()
    found = []
    for r in rows:
        details = json.loads(r.details)
        found.append(SignIn(r.at, str(details.get("protocol", "")),
                            str(details.get("method", "")), str(details.get("peer", "")),
                            details.get("client_id"), details.get("result") == "allowed",
                            str(details.get("reason", ""))))
    return found


def by_door(attempts: list[SignIn]) -> dict[str, list[SignIn]]:
    """The attempts grouped per door, each group newest first."""
    grouped: dict[str, list[SignIn]] = {}
    for attempt in attempts:
        grouped.setdefault(attempt.protocol, []).append(attempt)
    return grouped

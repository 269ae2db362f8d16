"""Reading the audit trail as staff: its entries (`audit`) and the chain check (`audit
verify`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from mailgate.audit.verify import ChainProblem, verify
from mailgate.db.engine import check_integrity
from mailgate.db.schema import audit_log
from mailgate.directory import authority
from mailgate.directory.authority import Actor
from mailgate.directory.views import normalise_address
from mailgate.service import Service

CORE_KEYS = ("id", "at", "actor", "role", "action", "account")


def iso_time(ts: float | None) -> str | None:
    """UTC seconds as `2026-12-02T18:30:00Z` (None stays None)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entries(svc: Service, actor: Actor, address: str | None = None, limit: int = 0,
            by: str | None = None, action: str | None = None,
            before: int | None = None) -> list[dict[str, object]]:
    """The audit entries, oldest first (of one account; by one actor; of one action or,
    ending in `.`, one family of actions such as `case.`; older than entry `before`; only
    the newest `limit`)."""
    authority.require_staff(actor, "read the audit log")
    if limit < 0:
        raise ValueError("--limit must be 0 (everything) or a positive number")
    query = select(audit_log).order_by(audit_log.c.id)
    if address:
        query = query.where(audit_log.c.account == normalise_address(address))
    if before is not None:
        query = query.where(audit_log.c.id < before)
    if by:
        query = query.where(audit_log.c.actor == by.strip().lower())
    if action and action.endswith("."):
        query = query.where(audit_log.c.action >= action, audit_log.c.action < action + "~")
    elif action:
        query = query.where(audit_log.c.action == action)
    if limit:
        query = query.order_by(None).order_by(audit_log.c.id.desc()).limit(limit)
    with svc.reader.connect() as conn:
        rows = sorted(conn.execute(query).all(), key=lambda r: r.id)
    return [{"id": r.id, "at": iso_time(r.at), "actor": r.actor, "role": r.role,
             "action": r.action, "account": r.account, **json.loads(r.details)}
            for r in rows]


def check_chain(svc: Service, actor: Actor) -> tuple[int, list[ChainProblem]]:
    """How many entries the keyed hash chain covers, and every problem found in it."""
    check_integrity(svc.reader)  # a damaged file first: its rows cannot be trusted
    authority.require_staff(actor, "verify the audit log")
    with svc.reader.connect() as conn:
        return verify(conn, svc.audit_key)

"""A password change counts the live sessions it ends: password and token sign-ins of the
account (its tokens are revoked with it), on nodes alive, as the `live_sessions` table has
them at the time of the change."""

from __future__ import annotations

import json

from sqlalchemy import select

from mailgate.db.schema import audit_log, live_sessions, nodes
from mailgate.directory import accounts
from mailgate.directory.authority import Actor
from mailgate.directory.views import account_row
from mailgate.service import Service

SYSTEM = Actor.system()


def test_password_change_counts_password_and_token_sessions_of_live_nodes(svc: Service) -> None:
    accounts.create(svc, SYSTEM, "ivy@example.test", "first-password")
    accounts.create(svc, SYSTEM, "jon@example.test", "first-password")
    now = svc.clock()
    with svc.engine.begin() as conn:
        ivy = account_row(conn, "ivy@example.test").id
        jon = account_row(conn, "jon@example.test").id
        conn.execute(nodes.insert(), [
            {"name": "a", "started_at": now, "last_seen": now},
            {"name": "b", "started_at": now, "last_seen": now},
            {"name": "dead", "started_at": now - 900, "last_seen": now - 600}])
        conn.execute(live_sessions.insert(), [
            {"id": sid, "node": node, "account_id": account, "protocol": protocol,
             "method": method, "peer": "127.0.0.1", "started_at": now}
            for sid, node, account, protocol, method in (
                ("s1", "a", ivy, "pop", "password"),
                ("s2", "b", ivy, "imap", "password"),  # another node counts too
                ("s3", "a", ivy, "imap", "app_password"),  # another credential
                ("s6", "a", ivy, "smtp", "oauth"),  # its token is revoked with the password
                ("s4", "dead", ivy, "pop", "password"),  # a node gone
                ("s5", "a", jon, "pop", "password"))])  # another account
    assert accounts.set_password(svc, SYSTEM, "ivy@example.test", "second-password") == 3
    with svc.reader.connect() as conn:
        details = conn.execute(select(audit_log.c.details).order_by(
            audit_log.c.id.desc())).scalars().first()
    assert json.loads(details)["live_sessions_ended"] == 3

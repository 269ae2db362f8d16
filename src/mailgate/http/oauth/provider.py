"""What every OAuth endpoint shares: the service, the gate (for the sign-in page), the web
sessions, the issuer's URLs and the keyed hash under which secrets are stored."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Row, select

from mailgate.auth.gate import Gate
from mailgate.db.schema import accounts
from mailgate.directory.authority import Actor
from mailgate.directory.views import effective_state
from mailgate.http.websession import WebSessions
from mailgate.service import Service


@dataclass
class Provider:
    svc: Service
    gate: Gate
    sessions: WebSessions

    @property
    def issuer(self) -> str:
        return self.svc.tokens.issuer

    def url(self, path: str) -> str:
        return f"{self.issuer}{path}"

    def mac(self, secret: str) -> str:
        """The stored form of a code, token or secret (never the thing itself)."""
        return self.svc.app_secret_key.mac(secret)

    def active_account(self, conn: Connection, account_id: int) -> Row | None:
        """The account a grant names, while it may still get tokens (state `active`)."""
        row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
        if row is None or effective_state(row, self.svc.clock()) != "active":
            return None
        return row


def user_actor(row: Row) -> Actor:
    """The account itself, as the actor of its own consent in the audit log."""
    return Actor(row.address, row.id, frozenset())

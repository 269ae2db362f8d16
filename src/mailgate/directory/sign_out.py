"""Sign out everywhere: the owner ends every session of their account at once — each
browser (the credential epoch moves on, so every web-session cookie is stale), every live
mail session on any node, whatever credential it signed in with (`signed_out_epoch`: the
event followers deny sessions signed in before it, within a second), and every OAuth token,
refresh-token family and code (a client holding one would sign straight back in). The
password and the app passwords stay: they are credentials, not sessions (a password change
or revoking an app password is how those are withdrawn)."""

from __future__ import annotations

from sqlalchemy import func, select, update

from mailgate.db.schema import accounts, live_sessions
from mailgate.directory import authority, tokens
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.views import account_row
from mailgate.nodes import on_live_node, seen_since
from mailgate.service import Service


def sign_out_everywhere(svc: Service, actor: Actor, address: str) -> int:
    """End every web session, live session and token of the account (audited as
    `account.sign_out_everywhere`); returns how many live sessions this ends."""
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = account_row(conn, address)
        authority.require_view(actor, row.id, "sign this account out everywhere")
        epoch = accounts.c.credential_epoch + 1  # in SQL: atomic with a concurrent change
        conn.execute(update(accounts).where(accounts.c.id == row.id).values(
            credential_epoch=epoch, signed_out_epoch=epoch))
        ended = conn.execute(select(func.count()).select_from(live_sessions).where(
            live_sessions.c.account_id == row.id,
            on_live_node(live_sessions.c.node, seen_since(svc)))).scalar_one()
        tokens.revoke_all(conn, row.id, now)
        record(conn, now, actor, "account.sign_out_everywhere", account=row.address,
               account_id=row.id, live_sessions_ended=ended, tokens_revoked="all")
    return int(ended)

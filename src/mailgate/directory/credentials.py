"""Whether the one credential a live session signed in with was revoked since.

A session signed in with an app password carries its id, one signed in with a token carries
the token's `jti` (see `auth.gate.Principal`). `app-password revoke` and `token revoke` each
record an account event, so the gate's recheck and the event follower ask this for the
sessions of that account and end those whose own credential is gone; password sessions and
sessions opened with another credential stay.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from mailgate.db.schema import app_passwords, revoked_tokens


def revoked(conn: Connection, account_id: int, method: str, credential_id: str | None) -> bool:
    """True when the app password or token `credential_id` of this account was revoked."""
    if credential_id is None:
        return False
    if method == "app_password":
        if not credential_id.isdigit():
            return True
        row = conn.execute(select(app_passwords.c.revoked_at).where(
            app_passwords.c.id == int(credential_id),
            app_passwords.c.account_id == account_id)).first()
        return row is None or row.revoked_at is not None
    if method == "oauth":
        return conn.execute(select(revoked_tokens.c.token_id).where(
            revoked_tokens.c.token_id == credential_id,
            revoked_tokens.c.account_id == account_id)).first() is not None
    return False

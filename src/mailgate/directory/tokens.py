"""Access tokens on the directory side: issuing one (audited), the revocation list, and the
actor a staff token acts as in the admin API.

A token is revoked one by one (its `jti` in `revoked_tokens` until it would have expired) or
all at once for an account (`token_cutoffs`: every token issued before that moment), as
`compromise` does. The gate asks `is_revoked` with the account it loads at sign-in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from mailgate.auth.tokens import STAFF_SCOPE, AccessToken, TokenRejected, scope_for
from mailgate.db.schema import revoked_tokens, token_cutoffs
from mailgate.directory import authority, oauth_grants
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import DirectoryError
from mailgate.directory.views import (
    account_row,
    effective_state,
    find_account,
    load_actor,
    role_names,
)
from mailgate.policy.catalogue import normalise_protocol
from mailgate.service import Service

MAX_LIFETIME = 30 * 86400


@dataclass(frozen=True)
class Issued:
    token: str
    claims: AccessToken


def issue(svc: Service, actor: Actor, address: str, protocols: Iterable[str],
          lifetime: int | None = None, staff: bool = False) -> Issued:
    """A token for the account's own use of these doors (admins, or the account itself);
    `staff`: it also acts in the admin API, within the account's staff roles."""
    doors = sorted({normalise_protocol(p) for p in protocols})
    if not doors and not staff:
        raise DirectoryError("name the doors the token opens: --protocol imap|pop|smtp "
                             "(or --staff for the admin API)")
    scopes = [scope_for(door) for door in doors] + ([STAFF_SCOPE] if staff else [])
    seconds = lifetime if lifetime is not None else svc.settings.seconds("auth",
                                                                         "token_lifetime")
    if not 0 < seconds <= MAX_LIFETIME:
        raise DirectoryError("a token lives between 1 second and 30 days")
    with svc.engine.begin() as conn:
        row = account_row(conn, address)
        if actor.account_id != row.id:
            authority.require_admin(actor, "issue tokens for another account")
        if staff and not role_names(conn, row.id):
            raise DirectoryError(f"{row.address} holds no staff role: a staff token would "
                                 "open nothing (mailgate role grant)")
        token, claims = svc.tokens.issue(row.address, scopes, seconds)
        record(conn, svc.clock(), actor, "token.issue", account=row.address, scope="none",
               token_id=claims.token_id, scopes=sorted(claims.scopes),
               expires_at=claims.expires_at, client_id=claims.client_id)
    return Issued(token, claims)


def revoke(svc: Service, actor: Actor, address: str, token_id: str) -> None:
    """Put one token (by its id, `jti`) on the revocation list, where it stays for the
    longest lifetime a token can have; revocations older than that are dropped meanwhile."""
    if not token_id or len(token_id) > 64 or not token_id.isalnum():
        raise DirectoryError("a token id is the jti printed by 'mailgate token issue --json'")
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = account_row(conn, address)
        if actor.account_id != row.id:
            authority.require_staff(actor, "revoke another account's tokens")
        revoke_ids(conn, row.id, [token_id], now)
        record(conn, now, actor, "token.revoke", account=row.address, account_id=row.id,
               token_id=token_id)


def revoke_ids(conn: Connection, account_id: int, token_ids: Iterable[str], now: float) -> None:
    """Put these token ids of the account on the revocation list (inside the caller's
    change, which records the account event that ends their sessions)."""
    conn.execute(delete(revoked_tokens).where(revoked_tokens.c.expires_at <= now))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for token_id in token_ids:
        conn.execute(dialect.insert(revoked_tokens).values(
            token_id=token_id, account_id=account_id, revoked_at=now,
            expires_at=now + MAX_LIFETIME).on_conflict_do_nothing())


def revoke_all(conn: Connection, account_id: int, now: float) -> None:
    """Every token of the account issued until now is revoked, and so are its refresh-token
    families, authorization codes and approved device codes (inside the caller's change)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(token_cutoffs).values(account_id=account_id, not_before=now)
    conn.execute(stmt.on_conflict_do_update(index_elements=["account_id"],
                                            set_={"not_before": now}))
    oauth_grants.revoke_account(conn, account_id, now)


def staff_actor(svc: Service, token: str) -> Actor | None:
    """The actor a bearer token acts as in the admin API: a valid token with the staff scope,
    not revoked, of an active account (its roles set the limits). None otherwise, alike."""
    try:
        claims = svc.tokens.claims(token)
    except TokenRejected:
        return None
    if STAFF_SCOPE not in claims.scopes:
        return None
    with svc.reader.connect() as conn:
        row = find_account(conn, claims.subject)
        if row is None or effective_state(row, svc.clock()) != "active" \
                or is_revoked(conn, row.id, claims):
            return None
        return load_actor(conn, row.address)


def is_revoked(conn: Connection, account_id: int, claims: AccessToken) -> bool:
    cutoff = conn.execute(select(token_cutoffs.c.not_before).where(
        token_cutoffs.c.account_id == account_id)).scalar()
    if cutoff is not None and claims.issued_at <= cutoff:
        return True
    return conn.execute(select(revoked_tokens.c.token_id).where(
        revoked_tokens.c.token_id == claims.token_id,
        revoked_tokens.c.account_id == account_id)).first() is not None

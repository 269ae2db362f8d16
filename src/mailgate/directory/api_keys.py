"""Operator API keys (until staff tokens exist): a key acts as one account, with that
account's roles and their limits, over the admin REST API.

The secret (`mgk_` and 48 hex digits, 192 bits) is shown once and stored as a keyed hash with
the app password key (`auth.app_secrets`), so the API finds a key by that hash in one indexed
read. Staff may make keys for themselves; only the mail team makes them for others. A key
dies with its account's trust: compromise and deactivation revoke every key of the account,
and a key of an account that is not active is refused like an unknown one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from sqlalchemy import Connection, Row, select, update

from mailgate.db.schema import accounts, api_keys
from mailgate.directory import authority
from mailgate.directory.app_passwords import secret_status
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import Conflict, DirectoryError, InvalidTransition, NotFound
from mailgate.directory.views import account_row, effective_state, load_actor, require_plain
from mailgate.service import Service

PREFIX = "mgk_"
MAX_LABEL = 128
MAX_SECRET = 100
LAST_USE_RESOLUTION = 60.0  # seconds: a busy key writes its last use once a minute at most


@dataclass(frozen=True)
class ApiKey:
    """One key as `api-key list` shows it (never its secret)."""

    id: int
    account: str
    label: str
    created_by: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None

    def status(self, now: float) -> str:
        return secret_status(self.revoked_at, self.expires_at, now)

    def as_json(self, now: float) -> dict[str, object]:
        return {"id": self.id, "account": self.account, "label": self.label,
                "created_by": self.created_by, "created_at": self.created_at,
                "expires_at": self.expires_at, "revoked_at": self.revoked_at,
                "last_used_at": self.last_used_at, "status": self.status(now)}


def _of(row: Row) -> ApiKey:
    return ApiKey(row.id, row.address, row.label, row.created_by, row.created_at,
                  row.expires_at, row.revoked_at, row.last_used_at)


def _keys_with_address():  # type: ignore[no-untyped-def]
    return select(api_keys, accounts.c.address).join(accounts,
                                                     accounts.c.id == api_keys.c.account_id)


def create(svc: Service, actor: Actor, address: str, label: str = "",
           expires_in: int | None = None) -> tuple[ApiKey, str]:
    """A new key acting as ADDRESS, and its secret (shown once, never stored)."""
    if len(label) > MAX_LABEL:
        raise DirectoryError(f"--label is {len(label)} characters long; at most {MAX_LABEL}")
    require_plain(label, "label")
    if expires_in is not None and expires_in <= 0:
        raise DirectoryError("--expires must be a positive duration, e.g. 90d")
    secret = PREFIX + secrets.token_hex(24)
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = account_row(conn, address)
        if actor.account_id == row.id:
            authority.require_staff(actor, "create API keys")
        else:
            authority.require_admin(actor, "create API keys for another account")
        state = effective_state(row, now)
        if state != "active":
            raise InvalidTransition(f"{row.address} is {state}; an API key can only act as an "
                                    "active account")
        expires_at = now + expires_in if expires_in is not None else None
        new_id = int(conn.execute(api_keys.insert().values(
            account_id=row.id, label=label, secret_hash=svc.app_secret_key.mac(secret),
            created_by=actor.address, created_at=now,
            expires_at=expires_at)).inserted_primary_key[0])
        record(conn, now, actor, "api_key.create", account=row.address, scope="none",
               api_key=new_id, label=label, expires_at=expires_at)
    return ApiKey(new_id, row.address, label, actor.address, now, expires_at, None,
                  None), secret


def list_keys(svc: Service, actor: Actor) -> list[ApiKey]:
    """Every key for the mail team; one's own keys for anyone else."""
    query = _keys_with_address().order_by(api_keys.c.id)
    if not actor.is_admin:
        query = query.where(api_keys.c.account_id == (actor.account_id or -1))
    with svc.reader.connect() as conn:
        return [_of(r) for r in conn.execute(query)]


def revoke(svc: Service, actor: Actor, key_id: int) -> ApiKey:
    now = svc.clock()
    with svc.engine.begin() as conn:
        found = conn.execute(_keys_with_address().where(api_keys.c.id == key_id)).first()
        if found is None:
            raise NotFound(f"no API key {key_id}")
        if found.account_id != actor.account_id:
            authority.require_admin(actor, "revoke another account's API keys")
        if found.revoked_at is not None:
            raise Conflict(f"API key {key_id} is already revoked")
        conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now))
        record(conn, now, actor, "api_key.revoke", account=found.address, scope="none",
               api_key=key_id, label=found.label)
    return replace(_of(found), revoked_at=now)


def revoke_all(conn: Connection, account_id: int, now: float) -> int:
    """Revoke every live key of the account (inside the caller's change); how many."""
    return int(conn.execute(update(api_keys).where(
        api_keys.c.account_id == account_id, api_keys.c.revoked_at.is_(None)).values(
        revoked_at=now)).rowcount)


def authenticate(svc: Service, secret: str) -> Actor | None:
    """The actor a presented secret acts as; None for an unknown, revoked or expired key and
    for a key whose account is no longer active (the caller answers all alike)."""
    if not secret.startswith(PREFIX) or len(secret) > MAX_SECRET:
        return None
    digest = svc.app_secret_key.mac(secret)
    now = svc.clock()
    with svc.reader.connect() as conn:
        row = conn.execute(select(
            api_keys.c.id, api_keys.c.revoked_at, api_keys.c.expires_at,
            api_keys.c.last_used_at, accounts.c.address, accounts.c.state,
            accounts.c.deactivate_at).join(accounts, accounts.c.id == api_keys.c.account_id)
            .where(api_keys.c.secret_hash == digest)).first()
        if row is None or row.revoked_at is not None \
                or (row.expires_at is not None and row.expires_at <= now) \
                or effective_state(row, now) != "active":
            return None
        actor = load_actor(conn, row.address)
    if row.last_used_at is None or now - row.last_used_at >= LAST_USE_RESOLUTION:
        with svc.engine.begin() as conn:
            conn.execute(update(api_keys).where(api_keys.c.id == row.id).values(
                last_used_at=now))
    return actor

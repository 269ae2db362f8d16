"""App passwords (SPEC §6): one secret per device, scoped to chosen doors, optionally expiring
and limited to client networks, revocable, with its last use shown.

The secret is shown once and stored as a keyed hash (`auth.app_secrets`); the gate finds it by
that hash (`find`). A user manages their own app passwords for doors that are open to them
(SPEC §4); the help desk and the mail team manage anyone's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Row, select, update

from mailgate.auth import app_secrets
from mailgate.db.schema import app_passwords
from mailgate.directory import authority
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import DirectoryError, NotAllowed, NotFound
from mailgate.directory.views import account_row, policy_view, require_plain
from mailgate.policy.catalogue import normalise_protocol
from mailgate.policy.decision import decide
from mailgate.service import Service

MAX_LABEL = 128
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def secret_status(revoked_at: float | None, expires_at: float | None, now: float) -> str:
    """`revoked`, `expired` or `active`: the status `list` shows of an app password or an
    API key."""
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active"


@dataclass(frozen=True)
class AppPassword:
    """One app password as `list` shows it (never its secret)."""

    id: int
    label: str
    protocols: tuple[str, ...]
    networks: tuple[str, ...]
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None

    def status(self, now: float) -> str:
        return secret_status(self.revoked_at, self.expires_at, now)

    def as_json(self, now: float) -> dict[str, object]:
        return {"id": self.id, "label": self.label, "protocols": list(self.protocols),
                "networks": list(self.networks), "created_at": self.created_at,
                "expires_at": self.expires_at, "revoked_at": self.revoked_at,
                "last_used_at": self.last_used_at, "status": self.status(now)}


def _of(row: Row) -> AppPassword:
    return AppPassword(row.id, row.label, tuple(row.protocols.split(",")),
                       tuple(n for n in (row.networks or "").split(",") if n), row.created_at,
                       row.expires_at, row.revoked_at, row.last_used_at)


def networks_of(row: Row) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n) for n in (row.networks or "").split(",") if n)


def _parsed_networks(networks: Iterable[str]) -> list[str]:
    try:
        return [str(ipaddress.ip_network(n.strip(), strict=False)) for n in networks
                if n.strip()]
    except ValueError as exc:
        raise DirectoryError(f"invalid network: {exc}") from None


def create(svc: Service, actor: Actor, address: str, protocols: Iterable[str], label: str = "",
           expires_in: int | None = None, networks: Iterable[str] = ()
           ) -> tuple[AppPassword, str]:
    """A new app password and its secret (shown once, never stored)."""
    doors = sorted({normalise_protocol(p) for p in protocols})
    if not doors:
        raise DirectoryError("name the doors it opens: --protocol imap|pop|smtp ...")
    if len(label) > MAX_LABEL:
        raise DirectoryError(f"--label is {len(label)} characters long; at most {MAX_LABEL}")
    require_plain(label, "label")
    if expires_in is not None and expires_in <= 0:
        raise DirectoryError("--expires must be a positive duration, e.g. 90d")
    nets = _parsed_networks(networks)
    secret = app_secrets.generate()
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = account_row(conn, address)
        authority.require_view(actor, row.id, "manage this account's app passwords")
        if not actor.is_staff:  # a user: only for doors that are open to them (SPEC §4)
            view = policy_view(conn, row, now)
            for door in doors:
                decision = decide(view, door, now)
                if not decision.allowed:
                    raise NotAllowed(f"no app password for {door}: {decision.detail}")
        expires_at = now + expires_in if expires_in is not None else None
        new_id = conn.execute(app_passwords.insert().values(
            account_id=row.id, label=label, protocols=",".join(doors),
            secret_hash=svc.app_secret_key.mac(secret), created_at=now, expires_at=expires_at,
            networks=",".join(nets) or None)).inserted_primary_key[0]
        record(conn, now, actor, "app_password.create", account=row.address, scope="none",
               app_password=new_id, label=label, protocols=doors, expires_at=expires_at,
               networks=nets or "anywhere")
    return AppPassword(new_id, label, tuple(doors), tuple(nets), now, expires_at, None,
                       None), secret


def list_for(svc: Service, actor: Actor, address: str) -> list[AppPassword]:
    with svc.reader.connect() as conn:
        row = account_row(conn, address)
        authority.require_view(actor, row.id, "see this account's app passwords")
        return [_of(r) for r in conn.execute(select(app_passwords).where(
            app_passwords.c.account_id == row.id).order_by(app_passwords.c.id))]


def revoke(svc: Service, actor: Actor, address: str, app_password_id: int) -> None:
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = account_row(conn, address)
        authority.require_view(actor, row.id, "revoke this account's app passwords")
        found = conn.execute(select(app_passwords).where(
            app_passwords.c.id == app_password_id,
            app_passwords.c.account_id == row.id)).first()
        if found is None:
            raise NotFound(f"{row.address} has no app password {app_password_id}")
        if found.revoked_at is not None:
            raise DirectoryError(f"app password {app_password_id} is already revoked")
        conn.execute(update(app_passwords).where(app_passwords.c.id == found.id).values(
            revoked_at=now))
        record(conn, now, actor, "app_password.revoke", account=row.address,
               account_id=row.id, app_password=found.id, label=found.label)


def find(conn: Connection, account_id: int, secret_hash: str, now: float) -> Row | None:
    """The account's live (not revoked, not expired) app password with this keyed hash."""
    row = conn.execute(select(app_passwords).where(
        app_passwords.c.secret_hash == secret_hash,
        app_passwords.c.account_id == account_id,
        app_passwords.c.revoked_at.is_(None))).first()
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return row

"""Accounts and their lifecycle (SPEC §2): create, password, compromise, restore, (de)activate."""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, select, update

from mailgate.db.schema import (
    account_settings,
    accounts,
    app_passwords,
    live_sessions,
    roles,
    temporary_grants,
)
from mailgate.directory import api_keys, authority, mfa_state, tokens
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import Conflict, DirectoryError, InvalidTransition
from mailgate.directory.notes import bounded
from mailgate.directory.views import (
    account_row,
    department_id,
    effective_state,
    find_account,
    normalise_address,
    plan_id,
    require_plain,
)
from mailgate.nodes import on_live_node, seen_since
from mailgate.service import Service

STATES = ("active", "compromised", "deactivating", "deactivated", "pending")


def create(svc: Service, actor: Actor, address: str, password: str | None, name: str = "",
           department: str | None = None, plan: str = "standard", pending: bool = False) -> None:
    address = normalise_address(address)
    require_plain(name, "display name")
    authority.require_admin(actor, "create accounts")
    password_hash = svc.passwords.hash(password) if password else None
    now = svc.clock()
    with svc.engine.begin() as conn:
        if find_account(conn, address) is not None:
            raise Conflict(f"account {address} already exists")
        dept = department_id(conn, department) if department else None
        state = "pending" if pending else "active"
        result = conn.execute(accounts.insert().values(
            address=address, name=name, password_hash=password_hash, department_id=dept,
            plan_id=plan_id(conn, plan), state=state, created_at=now, credential_epoch=0))
        new_id = result.inserted_primary_key[0]
        from mailgate.store.folders import create_default_folders

        create_default_folders(conn, new_id, now)
        record(conn, now, actor, "account.create", account=address, account_id=new_id,
               after={"state": state, "plan": plan, "department": department, "name": name})


def set_password(svc: Service, actor: Actor, address: str, password: str) -> int:
    """Set a new password; returns how many live sessions (password and token sign-ins, on
    any node) this ends: every node's event follower ends them, as the credential epoch moved
    on. Every access token, refresh-token family, authorization code and device code of the
    account is revoked with it: they came from sign-ins with the old password, which may be
    what was stolen. App passwords stay (each its own credential, revoked on its own)."""
    with svc.reader.connect() as conn:
        row = account_row(conn, address)
    if actor.account_id != row.id:
        authority.require_staff(actor, "reset another account's password")
    new_hash = svc.passwords.hash(password)
    now = svc.clock()
    with svc.engine.begin() as conn:
        conn.execute(update(accounts).where(accounts.c.id == row.id).values(
            password_hash=new_hash, credential_epoch=accounts.c.credential_epoch + 1))
        ended = conn.execute(select(func.count()).select_from(live_sessions).where(
            live_sessions.c.account_id == row.id,
            live_sessions.c.method.in_(("password", "oauth")),
            on_live_node(live_sessions.c.node, seen_since(svc)))).scalar_one()
        tokens.revoke_all(conn, row.id, now)
        record(conn, now, actor, "account.password", account=row.address, account_id=row.id,
               live_sessions_ended=ended, tokens_revoked="all")
    return int(ended)


def _transition(conn: Connection, row_id: int, **values: object) -> None:
    conn.execute(update(accounts).where(accounts.c.id == row_id).values(**values))


def compromise(svc: Service, actor: Actor, address: str, reason: str) -> None:
    """Close every door, end live sessions (via the event), revoke app passwords and tokens."""
    authority.require_staff(actor, "mark an account compromised")
    if not bounded(reason, "--reason").strip():
        raise DirectoryError("a reason is required: --reason TEXT")
    require_plain(reason, "reason")
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = account_row(conn, address)
        state = effective_state(row, now)
        if state == "deactivated":
            raise InvalidTransition(f"{row.address} is deactivated; a deactivated account "
                                    "cannot be marked compromised")
        if state == "compromised":
            raise InvalidTransition(f"{row.address} is already compromised")
        _transition(conn, row.id, state="compromised", deactivate_at=None, compromised=True,
                    credential_epoch=row.credential_epoch + 1)
        revoked = conn.execute(update(app_passwords).where(
            app_passwords.c.account_id == row.id, app_passwords.c.revoked_at.is_(None)).values(
            revoked_at=now)).rowcount
        tokens.revoke_all(conn, row.id, now)
        keys = api_keys.revoke_all(conn, row.id, now)
        record(conn, now, actor, "account.compromise", account=row.address, account_id=row.id,
               before={"state": state}, after={"state": "compromised"}, reason=reason,
               app_passwords_revoked=revoked, tokens_revoked="all", api_keys_revoked=keys)


def restore(svc: Service, actor: Actor, address: str, password: str, note: str) -> None:
    """compromised -> active with a new password, protocol settings back to plan defaults
    and no second factor (an intruder may have enrolled their own: the owner enrols again)."""
    authority.require_staff(actor, "restore a compromised account")
    if not bounded(note, "--note").strip():
        raise DirectoryError("a note saying who verified the owner's identity is required: "
                             "--note TEXT")
    require_plain(note, "note")
    with svc.reader.connect() as conn:
        row = account_row(conn, address)
    if row.state != "compromised":
        raise InvalidTransition(f"{row.address} is {row.state}; only a compromised account "
                                "can be restored")
    if row.password_hash and svc.passwords.verify(row.password_hash, password):
        raise DirectoryError("the new password must differ from the compromised one")
    new_hash = svc.passwords.hash(password)
    now = svc.clock()
    with svc.engine.begin() as conn:
        current = account_row(conn, address)
        if current.state != "compromised":
            raise InvalidTransition(f"{row.address} is {current.state}; only a compromised "
                                    "account can be restored")
        dropped = [r.protocol for r in conn.execute(select(account_settings.c.protocol).where(
            account_settings.c.account_id == row.id))]
        conn.execute(delete(account_settings).where(account_settings.c.account_id == row.id))
        conn.execute(delete(temporary_grants).where(temporary_grants.c.account_id == row.id))
        mfa_removed = mfa_state.clear(conn, row.id)
        _transition(conn, row.id, state="active", password_hash=new_hash, compromised=False,
                    credential_epoch=current.credential_epoch + 1)
        record(conn, now, actor, "account.restore", account=row.address, account_id=row.id,
               before={"state": "compromised", "custom_settings": sorted(dropped),
                       "mfa": mfa_removed},
               after={"state": "active", "settings": "plan defaults"}, verified_by=actor.address,
               note=note)


def deactivate(svc: Service, actor: Actor, address: str, now_: bool = False) -> str:
    authority.require_admin(actor, "deactivate accounts")
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = account_row(conn, address)
        state = effective_state(row, now)
        if state == "deactivated":
            raise InvalidTransition(f"{row.address} is already deactivated")
        if state == "deactivating" and not now_:
            raise InvalidTransition(f"{row.address} is already deactivating; use --now to "
                                    "deactivate it at once")
        target = "deactivated" if now_ else "deactivating"
        at = None if now_ else now + svc.deactivation_grace
        _transition(conn, row.id, state=target, deactivate_at=at,
                    credential_epoch=row.credential_epoch + 1)
        keys = api_keys.revoke_all(conn, row.id, now)
        record(conn, now, actor, "account.deactivate", account=row.address, account_id=row.id,
               before={"state": state}, after={"state": target, "deactivate_at": at},
               api_keys_revoked=keys)
    return target


def activate(svc: Service, actor: Actor, address: str) -> None:
    authority.require_admin(actor, "activate accounts")
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = account_row(conn, address)
        state = effective_state(row, now)
        if state not in ("pending", "deactivating"):
            hint = {"compromised": "; restore it with 'mailgate account restore'",
                    "active": "", "deactivated": "; a deactivated account stays deactivated"}
            raise InvalidTransition(f"{row.address} is {state}; only a pending or deactivating "
                                    f"account can be activated{hint.get(state, '')}")
        if row.compromised:
            raise InvalidTransition(f"{row.address} was compromised; bring it back with "
                                    "'mailgate account restore' (new password, identity "
                                    "check)")
        _transition(conn, row.id, state="active", deactivate_at=None)
        record(conn, now, actor, "account.activate", account=row.address, account_id=row.id,
               before={"state": state}, after={"state": "active"})


def grant_role(svc: Service, actor: Actor, address: str, role: str,
               department: str | None = None) -> None:
    authority.require_admin(actor, "grant roles")
    if role not in authority.STAFF_ROLES:
        raise DirectoryError(f"unknown role '{role}'; known: {', '.join(authority.STAFF_ROLES)}")
    if (role == "dept-admin") != (department is not None):
        raise DirectoryError("dept-admin needs --department DEPT; other roles take none")
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = account_row(conn, address)
        dept = department_id(conn, department) if department else None
        exists = conn.execute(select(roles.c.id).where(
            roles.c.account_id == row.id, roles.c.role == role,
            roles.c.department_id.is_(None) if dept is None else roles.c.department_id == dept
        )).first()
        if exists:
            raise Conflict(f"{row.address} already has role {role}")
        conn.execute(roles.insert().values(account_id=row.id, role=role, department_id=dept))
        record(conn, now, actor, "role.grant", account=row.address, scope="none",
               after={"role": role, "department": department})

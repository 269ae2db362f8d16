"""MFA policy and help desk work: which plans and departments require a second factor,
`mfa status`, and `mfa reset` for an owner who lost their authenticator.

Requiring MFA of a plan is the mail team's (admin); of a department, the mail team's or that
department's dept-admin's, like the department's door policy (SPEC §4). A reset removes every
factor (TOTP, security keys, recovery codes); the help desk or the mail team does it, after
checking who is asking, and never a staff member on their own account unless an admin. An
account whose policy requires MFA then enrols again at its next sign-in.

An account removes one of its own factors with `remove_own` (the `/account/mfa` page, after a
fresh second factor), never the last one while its plan or department requires MFA; when the
last one goes, its recovery codes go too.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from mailgate.db.schema import mfa_requirements, recovery_codes, totp_factors, webauthn_credentials
from mailgate.directory import authority, mfa_state
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import DirectoryError, NotAllowed, NotFound
from mailgate.directory.mfa_state import MfaStatus
from mailgate.directory.notes import bounded
from mailgate.directory.views import (
    account_row,
    active_account,
    department_id,
    plan_id,
    require_plain,
)
from mailgate.service import Service

SCOPES = ("plan", "department")


def set_required(svc: Service, actor: Actor, scope: str, name: str, required: bool) -> bool:
    """Require MFA of the accounts of a plan or department (or stop); True if it changed."""
    if scope not in SCOPES:
        raise DirectoryError(f"MFA is required per plan or department, not per {scope}")
    now = svc.clock()
    with svc.engine.begin() as conn:
        if scope == "plan":
            authority.require_admin(actor, "require MFA of a plan")
            scope_id = plan_id(conn, name)
        else:
            scope_id = department_id(conn, name)
            authority.require_department_policy(actor, name, scope_id)
        where = (mfa_requirements.c.scope == scope, mfa_requirements.c.scope_id == scope_id)
        before = conn.execute(select(mfa_requirements).where(*where)).first() is not None
        if before == required:
            return False
        if required:
            conn.execute(mfa_requirements.insert().values(scope=scope, scope_id=scope_id))
        else:
            conn.execute(delete(mfa_requirements).where(*where))
        record(conn, now, actor, "mfa.require", scope=scope, scope_id=scope_id,
               **{scope: name}, before=before, after=required)
    return True


def status(svc: Service, actor: Actor, address: str) -> tuple[str, MfaStatus]:
    """(address, status): whether MFA is required and what the account has enrolled."""
    with svc.reader.connect() as conn:
        row = account_row(conn, address)
        authority.require_view(actor, row.id, "see this account's MFA")
        return row.address, mfa_state.status(conn, row)


def reset(svc: Service, actor: Actor, address: str, reason: str) -> dict[str, int]:
    """Remove every second factor of the account; how many of each there were."""
    if not bounded(reason, "--reason").strip():
        raise DirectoryError("a reason is required (who asked, how they were identified): "
                             "--reason TEXT")
    require_plain(reason, "reason")
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = account_row(conn, address)
        authority.require_mfa_reset(actor, row.id)
        removed = mfa_state.clear(conn, row.id)
        record(conn, now, actor, "mfa.reset", account=row.address, scope="none",
               reason=reason, removed=removed)
    return removed


def remove_own(svc: Service, address: str, factor: str) -> None:
    """The account itself removes `totp` or `webauthn:ID` (one of its security keys)."""
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = active_account(conn, address, now)
        before = mfa_state.status(conn, row)
        if factor == "totp":
            if before.enrolment.totp_confirmed_at is None:
                raise NotFound("there is no TOTP authenticator to remove")
            left = [m for m in before.enrolment.methods if m != "totp"]
            condition = totp_factors.c.account_id == row.id
            table, what = totp_factors, {"totp": 1}
        elif factor.startswith("webauthn:") and factor[9:].isdigit():
            wanted = int(factor[9:])
            if wanted not in {a.id for a in before.enrolment.authenticators}:
                raise NotFound("there is no such security key")
            left = ["webauthn"] * (len(before.enrolment.authenticators) - 1) + \
                (["totp"] if before.enrolment.totp_confirmed_at is not None else [])
            condition = (webauthn_credentials.c.id == wanted) & \
                (webauthn_credentials.c.account_id == row.id)
            table, what = webauthn_credentials, {"webauthn": wanted}
        else:
            raise DirectoryError("which factor? `totp` or `webauthn:ID`")
        if not left and before.required:
            raise NotAllowed(f"MFA is required by {', '.join(before.required_by)}: add "
                             "another factor before removing this one")
        conn.execute(delete(table).where(condition))
        if not left:
            conn.execute(delete(recovery_codes).where(recovery_codes.c.account_id == row.id))
        record(conn, now, Actor.itself(row.address, row.id), "mfa.remove",
               account=row.address, scope="none", removed=what,
               recovery_codes_removed=not left)

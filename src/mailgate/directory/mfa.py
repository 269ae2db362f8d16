"""MFA policy and help desk work: which plans and departments require a second factor,
`mfa status`, and `mfa reset` for an owner who lost their authenticator.

Requiring MFA of a plan is the mail team's (admin); of a department, the mail team's or that
department's dept-admin's, like the department's door policy (SPEC §4). A reset removes every
factor (TOTP, security keys, recovery codes); the help desk or the mail team does it, after
checking who is asking, and never a staff member on their own account unless an admin. An
account whose policy requires MFA then enrols again at its next sign-in.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from mailgate.db.schema import mfa_requirements
from mailgate.directory import authority, mfa_state
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import DirectoryError
from mailgate.directory.mfa_state import MfaStatus
from mailgate.directory.notes import bounded
from mailgate.directory.views import account_row, department_id, plan_id, require_plain
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

"""MFA recovery codes: ten single-use codes, made when an account enrols its first second
factor and shown once; making new ones replaces them all.

A code is 16 letters of the app password alphabet (80 random bits), shown as four groups of
four and typed with or without dashes, in either case. It is stored as a keyed hash
(`auth.mfa_key`): with 80 bits a slow hash adds nothing, and the keyed hash lets a code be
found and spent in one statement, so two sign-ins racing with the same code cannot both win.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, select, update

from mailgate.auth import app_secrets
from mailgate.db.schema import recovery_codes
from mailgate.directory import mfa_state
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import DirectoryError
from mailgate.directory.mfa_state import Outcome, Verdict
from mailgate.directory.views import active_account
from mailgate.service import Service

COUNT = 10
GROUPS = 4
MAX_TYPED = 64


def issue(conn: Connection, svc: Service, account_id: int, now: float) -> list[str]:
    """New codes for the account, replacing any it had (inside the caller's change)."""
    codes = [app_secrets.generate(GROUPS) for _ in range(COUNT)]
    conn.execute(delete(recovery_codes).where(recovery_codes.c.account_id == account_id))
    conn.execute(recovery_codes.insert(), [
        {"account_id": account_id, "code_hash": svc.mfa_key.recovery_mac(code),
         "created_at": now} for code in codes])
    return codes


def regenerate(svc: Service, address: str) -> list[str]:
    """Ten new codes for the account itself (the old ones stop working), shown once."""
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = active_account(conn, address, now)
        if not mfa_state.enrolment(conn, row.id).methods:
            raise DirectoryError("recovery codes come with a second factor: enrol TOTP or a "
                                 "security key first")
        codes = issue(conn, svc, row.id, now)
        record(conn, now, Actor.itself(row.address, row.id), "mfa.recovery_codes",
               account=row.address, scope="none", count=COUNT)
    return codes


def use(svc: Service, address: str, typed: str) -> Verdict:
    """Spend one of the account's unused codes; ACCEPTED once per code, WRONG otherwise."""
    now = svc.clock()
    if not 0 < len(typed) <= MAX_TYPED:
        return Verdict(Outcome.WRONG)
    code_hash = svc.mfa_key.recovery_mac(typed)
    with svc.engine.begin() as conn:
        row = active_account(conn, address, now)
        spent = conn.execute(update(recovery_codes).where(
            recovery_codes.c.account_id == row.id, recovery_codes.c.code_hash == code_hash,
            recovery_codes.c.used_at.is_(None)).values(used_at=now)).rowcount
        if spent != 1:
            return Verdict(Outcome.WRONG)
        left = conn.execute(select(func.count()).select_from(recovery_codes).where(
            recovery_codes.c.account_id == row.id,
            recovery_codes.c.used_at.is_(None))).scalar_one()
        record(conn, now, Actor.itself(row.address, row.id), "mfa.recovery_code.use",
               account=row.address, scope="none", left=int(left))
    return Verdict(Outcome.ACCEPTED)

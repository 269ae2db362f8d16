"""Read side of MFA: whether an account must use it (its plan's or department's policy), what
it has enrolled, and the outcome of checking a second factor. Also `clear`, which removes every
factor inside the caller's change (`mfa reset`, `account restore`).

No import from the rest of the directory but the schema, so `views` (account show) and
`accounts` (restore) can use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sqlalchemy import Connection, Row, and_, delete, func, or_, select

from mailgate.db.schema import (
    departments,
    mfa_requirements,
    plans,
    recovery_codes,
    totp_factors,
    webauthn_challenges,
    webauthn_credentials,
)


class Outcome(Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"  # not the code or signature expected (or nothing enrolled to check it)
    REUSED = "reused"  # a TOTP code (or an older one) that was already accepted
    THROTTLED = "throttled"  # too many wrong codes in a row: try later or another factor


@dataclass(frozen=True)
class Verdict:
    """What checking a second factor found; `retry_at` (epoch seconds) when THROTTLED."""

    outcome: Outcome
    retry_at: float | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


@dataclass(frozen=True)
class Authenticator:
    """A registered WebAuthn authenticator as `mfa status` shows it."""

    id: int
    label: str
    created_at: float
    last_used_at: float | None


@dataclass(frozen=True)
class Enrolment:
    totp_confirmed_at: float | None
    authenticators: tuple[Authenticator, ...]
    recovery_codes_left: int

    @property
    def methods(self) -> tuple[str, ...]:
        """The second factors the account can sign in with (recovery codes are a fallback)."""
        return (("totp",) if self.totp_confirmed_at is not None else ()) + \
            (("webauthn",) if self.authenticators else ())


@dataclass(frozen=True)
class MfaStatus:
    required_by: tuple[str, ...]  # e.g. ("plan staff", "department Physics")
    enrolment: Enrolment

    @property
    def required(self) -> bool:
        return bool(self.required_by)

    @property
    def must_enrol(self) -> bool:
        return self.required and not self.enrolment.methods

    def as_json(self) -> dict[str, object]:
        e = self.enrolment
        return {"required": self.required, "required_by": list(self.required_by),
                "methods": list(e.methods), "must_enrol": self.must_enrol,
                "totp_confirmed_at": e.totp_confirmed_at,
                "webauthn": [{"id": a.id, "label": a.label, "created_at": a.created_at,
                              "last_used_at": a.last_used_at} for a in e.authenticators],
                "recovery_codes_left": e.recovery_codes_left}

    def summary(self) -> str:
        """One line for `account show`."""
        need = f"required by {', '.join(self.required_by)}" if self.required else "optional"
        methods = ", ".join(self.enrolment.methods) or "nothing enrolled"
        if self.must_enrol:
            methods += " (must enrol at next sign-in)"
        return f"{need}; {methods}; {self.enrolment.recovery_codes_left} recovery codes left"


def required_by(conn: Connection, row: Row) -> tuple[str, ...]:
    """The plan and department whose policy requires MFA of this account."""
    scopes = [and_(mfa_requirements.c.scope == "plan", mfa_requirements.c.scope_id == row.plan_id)]
    if row.department_id is not None:
        scopes.append(and_(mfa_requirements.c.scope == "department",
                           mfa_requirements.c.scope_id == row.department_id))
    found = {r.scope for r in conn.execute(select(mfa_requirements.c.scope).where(or_(*scopes)))}
    out = []
    if "plan" in found:
        name = conn.execute(select(plans.c.name).where(plans.c.id == row.plan_id)).scalar_one()
        out.append(f"plan {name}")
    if "department" in found:
        name = conn.execute(select(departments.c.name).where(
            departments.c.id == row.department_id)).scalar_one()
        out.append(f"department {name}")
    return tuple(out)


def enrolment(conn: Connection, account_id: int) -> Enrolment:
    confirmed = conn.execute(select(totp_factors.c.confirmed_at).where(
        totp_factors.c.account_id == account_id)).scalar()
    authenticators = tuple(Authenticator(r.id, r.label, r.created_at, r.last_used_at)
                           for r in conn.execute(select(webauthn_credentials).where(
                               webauthn_credentials.c.account_id == account_id)
                               .order_by(webauthn_credentials.c.id)))
    left = conn.execute(select(func.count()).select_from(recovery_codes).where(
        recovery_codes.c.account_id == account_id,
        recovery_codes.c.used_at.is_(None))).scalar_one()
    return Enrolment(confirmed, authenticators, int(left))


def status(conn: Connection, row: Row) -> MfaStatus:
    return MfaStatus(required_by(conn, row), enrolment(conn, row.id))


def clear(conn: Connection, account_id: int) -> dict[str, int]:
    """Remove every factor of the account (TOTP, also unconfirmed; authenticators; recovery
    codes; open challenges); how many of each were there, for the audit entry."""
    removed = {}
    for name, table, condition in (
            ("totp", totp_factors, totp_factors.c.confirmed_at.is_not(None)),
            ("webauthn", webauthn_credentials, None),
            ("recovery_codes", recovery_codes, recovery_codes.c.used_at.is_(None))):
        query = select(func.count()).select_from(table).where(table.c.account_id == account_id)
        removed[name] = int(conn.execute(
            query if condition is None else query.where(condition)).scalar_one())
    for table in (totp_factors, webauthn_credentials, recovery_codes, webauthn_challenges):
        conn.execute(delete(table).where(table.c.account_id == account_id))
    return removed

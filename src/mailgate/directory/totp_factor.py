"""An account's TOTP authenticator: enrolment confirmed by a first code, then checking codes
with replay protection and a brake on guessing.

- `begin` makes a new secret (sealed with `DIR/mfa.key` before it is stored, never logged)
  and returns what the enrolment page shows: the `otpauth://` URI, its QR code as inline SVG
  and the secret for typing in by hand. It replaces an unconfirmed enrolment, never a
  confirmed one (`mfa reset` removes that).
- `enrolment` shows the one under way again (or begins one).
- `confirm` takes the first code from the app; the first second factor of an account also
  makes its ten recovery codes, returned to be shown once.
- `verify` accepts a code of the current time step or one either side, only if that step is
  later than the last accepted one (so a code, or an older one, is never accepted twice, even
  by two sign-ins at once: the step moves in one conditional update).
- Wrong codes in a row past `FREE_FAILURES` make the next try wait 30 s, doubling each time
  up to an hour, shared by every node (it is in the database): a six-digit code is guessed in
  a million tries, so without this an attacker holding the password would get there. While
  it waits the answer is THROTTLED, right code or not; a security key or a recovery code
  still works, so the owner is never shut out.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Row, delete, or_, select, update

from mailgate.auth import totp
from mailgate.db.schema import totp_factors
from mailgate.directory import mfa_state, recovery_codes
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import Conflict, DirectoryError
from mailgate.directory.mfa_state import Outcome, Verdict
from mailgate.directory.views import active_account
from mailgate.service import Service

FREE_FAILURES = 5
FIRST_WAIT = 30.0
MAX_WAIT = 3600.0


@dataclass(frozen=True)
class TotpEnrolment:
    """What the enrolment page shows (the secret too, for typing in by hand)."""

    secret: str
    uri: str
    qr_svg: str


def wait_after(failures: int) -> float:
    """How long after the last wrong code the next one is checked."""
    if failures < FREE_FAILURES:
        return 0.0
    return min(FIRST_WAIT * 2 ** (failures - FREE_FAILURES), MAX_WAIT)


def _factor(conn: Connection, account_id: int) -> Row | None:
    return conn.execute(select(totp_factors).where(
        totp_factors.c.account_id == account_id)).first()


def begin(svc: Service, address: str) -> TotpEnrolment:
    """A new secret for the account itself, to be confirmed with its first code."""
    now = svc.clock()
    secret = totp.new_secret()
    with svc.engine.begin() as conn:
        row = active_account(conn, address, now)
        found = _factor(conn, row.id)
        if found is not None and found.confirmed_at is not None:
            raise Conflict(f"{row.address} already has a TOTP authenticator; the help desk "
                           f"can remove it: mailgate mfa reset {row.address} --reason TEXT")
        conn.execute(delete(totp_factors).where(totp_factors.c.account_id == row.id))
        conn.execute(totp_factors.insert().values(
            account_id=row.id, secret=svc.mfa_key.seal(row.id, secret), created_at=now))
    uri = totp.provisioning_uri(secret, row.address, svc.settings.get("server", "domain"))
    return TotpEnrolment(secret, uri, totp.qr_svg(uri))


def enrolment(svc: Service, address: str) -> TotpEnrolment:
    """The enrolment under way (a page reloaded, a first code mistyped: the QR code already
    scanned stays right), else a new one (`begin`)."""
    now = svc.clock()
    with svc.reader.connect() as conn:
        row = active_account(conn, address, now)
        found = _factor(conn, row.id)
    if found is None or found.confirmed_at is not None:
        return begin(svc, address)
    secret = svc.mfa_key.unseal(row.id, found.secret)
    uri = totp.provisioning_uri(secret, row.address, svc.settings.get("server", "domain"))
    return TotpEnrolment(secret, uri, totp.qr_svg(uri))


def confirm(svc: Service, address: str, typed: str) -> list[str]:
    """Confirm the enrolment with the app's first code; returns the new recovery codes when
    this is the account's first second factor, else an empty list."""
    now = svc.clock()
    code = totp.parse_code(typed)
    with svc.engine.begin() as conn:
        row = active_account(conn, address, now)
        found = _factor(conn, row.id)
        if found is None or found.confirmed_at is not None:
            raise DirectoryError("there is no TOTP enrolment to confirm: begin one first")
        secret = svc.mfa_key.unseal(row.id, found.secret)
        step = totp.matching_step(secret, code, now) if code else None
        if step is None:
            raise DirectoryError("that is not the code the app shows now; check the phone's "
                                 "clock and type the six digits again")
        first = not mfa_state.enrolment(conn, row.id).methods
        conn.execute(update(totp_factors).where(totp_factors.c.account_id == row.id).values(
            confirmed_at=now, last_step=step, failures=0, last_failure_at=None))
        codes = recovery_codes.issue(conn, svc, row.id, now) if first else []
        record(conn, now, Actor.itself(row.address, row.id), "mfa.totp.enrol",
               account=row.address, scope="none", recovery_codes_made=len(codes))
    return codes


def verify(svc: Service, address: str, typed: str) -> Verdict:
    """Check a sign-in's TOTP code (see the module's notes on replay and guessing)."""
    now = svc.clock()
    code = totp.parse_code(typed)
    with svc.engine.begin() as conn:
        row = active_account(conn, address, now)
        found = _factor(conn, row.id)
        if found is None or found.confirmed_at is None:
            return Verdict(Outcome.WRONG)
        if found.last_failure_at is not None:
            retry_at = found.last_failure_at + wait_after(found.failures)
            if now < retry_at:
                return Verdict(Outcome.THROTTLED, retry_at)
        step = totp.matching_step(svc.mfa_key.unseal(row.id, found.secret), code, now) \
            if code else None
        if step is None:
            conn.execute(update(totp_factors).where(totp_factors.c.account_id == row.id).values(
                failures=totp_factors.c.failures + 1, last_failure_at=now))
            return Verdict(Outcome.WRONG)
        moved = conn.execute(update(totp_factors).where(
            totp_factors.c.account_id == row.id,
            or_(totp_factors.c.last_step.is_(None), totp_factors.c.last_step < step)).values(
            last_step=step, failures=0, last_failure_at=None)).rowcount
    return Verdict(Outcome.ACCEPTED if moved == 1 else Outcome.REUSED)

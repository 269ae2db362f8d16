"""MFA through the directory and the sign-in interface, on every backend: TOTP enrolment and
codes (window, replay, guessing brake), recovery codes, the requirement per plan and
department, who may change or reset what, and the lifecycle (factors cleared at restore)."""

from __future__ import annotations

import json

import pyotp
import pytest
from sqlalchemy import select

from mailgate.auth.mfa import MultiFactor
from mailgate.db import schema
from mailgate.directory import (
    accounts,
    doors,
    mfa,
    mfa_state,
    recovery_codes,
    totp_factor,
)
from mailgate.directory.authority import Actor
from mailgate.directory.errors import Conflict, DirectoryError, NotAllowed
from mailgate.directory.mfa_state import Outcome
from mailgate.directory.views import account_row, load_actor, report

T0 = 1_750_000_000.0
D = "example.test"
ANN, BOB, HD, DA = f"ann@{D}", f"bob@{D}", f"hd@{D}", f"da@{D}"
SYSTEM = Actor.system()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(svc):
    """ann (plan standard), bob (department Physics), hd (helpdesk), da (dept-admin of
    Physics); the service's clock at T0."""
    svc.clock = Clock()
    doors.create_department(svc, SYSTEM, "Physics")
    accounts.create(svc, SYSTEM, ANN, "ann-pass-1")
    accounts.create(svc, SYSTEM, BOB, "bob-pass-1", department="Physics")
    accounts.create(svc, SYSTEM, HD, "hd-pass-1")
    accounts.create(svc, SYSTEM, DA, "da-pass-1")
    accounts.grant_role(svc, SYSTEM, HD, "helpdesk")
    accounts.grant_role(svc, SYSTEM, DA, "dept-admin", "Physics")
    return svc


def actor(svc, address: str) -> Actor:
    with svc.reader.connect() as conn:
        return load_actor(conn, address)


def status(svc, address: str):
    return mfa.status(svc, SYSTEM, address)[1]


def audit(svc, action: str) -> list[dict]:
    with svc.reader.connect() as conn:
        return [json.loads(r.details) for r in conn.execute(
            select(schema.audit_log.c.details).where(schema.audit_log.c.action == action)
            .order_by(schema.audit_log.c.id))]


def enrol_totp(svc, address: str) -> tuple[pyotp.TOTP, list[str]]:
    enrolment = totp_factor.begin(svc, address)
    app = pyotp.parse_uri(enrolment.uri)
    return app, totp_factor.confirm(svc, address, app.at(svc.clock()))


def test_totp_enrolment_is_confirmed_by_a_first_code_and_makes_recovery_codes(world) -> None:
    enrolment = totp_factor.begin(world, ANN)
    assert enrolment.qr_svg.startswith("<svg") and enrolment.secret in enrolment.uri
    assert status(world, ANN).enrolment.methods == ()  # not before it is confirmed
    app = pyotp.TOTP(enrolment.secret)
    with pytest.raises(DirectoryError, match="not the code"):
        totp_factor.confirm(world, ANN, app.at(T0 + 600))
    codes = totp_factor.confirm(world, ANN, app.at(T0))
    assert len(codes) == len(set(codes)) == 10
    assert status(world, ANN).enrolment.methods == ("totp",)
    assert status(world, ANN).enrolment.recovery_codes_left == 10
    with pytest.raises(Conflict, match="mfa reset"):
        totp_factor.begin(world, ANN)
    assert audit(world, "mfa.totp.enrol") == [{"recovery_codes_made": 10}]


def test_a_new_begin_replaces_an_unconfirmed_secret(world) -> None:
    first = pyotp.TOTP(totp_factor.begin(world, ANN).secret)
    second = pyotp.TOTP(totp_factor.begin(world, ANN).secret)
    with pytest.raises(DirectoryError):
        totp_factor.confirm(world, ANN, first.at(T0))
    assert totp_factor.confirm(world, ANN, second.at(T0))


def test_codes_one_step_either_side_once_each(world) -> None:
    app, _ = enrol_totp(world, ANN)  # the code of T0's step is spent by the confirmation
    assert totp_factor.verify(world, ANN, app.at(T0)).outcome is Outcome.REUSED
    world.clock.now = T0 + 60
    assert totp_factor.verify(world, ANN, app.at(T0 + 30)).accepted  # one step behind
    assert totp_factor.verify(world, ANN, app.at(T0 + 30)).outcome is Outcome.REUSED
    assert totp_factor.verify(world, ANN, app.at(T0 + 90)).accepted  # one step ahead
    assert totp_factor.verify(world, ANN, app.at(T0 + 60)).outcome is Outcome.REUSED  # older
    world.clock.now = T0 + 300
    assert totp_factor.verify(world, ANN, app.at(T0 + 240)).outcome is Outcome.WRONG
    assert totp_factor.verify(world, ANN, "12 34").outcome is Outcome.WRONG
    assert totp_factor.verify(world, BOB, app.at(T0 + 300)).outcome is Outcome.WRONG


def test_wrong_codes_in_a_row_slow_the_next_try_never_shutting_the_owner_out(world) -> None:
    app, codes = enrol_totp(world, ANN)
    world.clock.now = T0 + 3000
    wrong = f"{(int(app.at(world.clock.now)) + 1) % 1_000_000:06d}"
    for _ in range(totp_factor.FREE_FAILURES):
        assert totp_factor.verify(world, ANN, wrong).outcome is Outcome.WRONG
    throttled = totp_factor.verify(world, ANN, app.at(world.clock.now))  # even the right one
    assert throttled.outcome is Outcome.THROTTLED and throttled.retry_at == T0 + 3030
    assert recovery_codes.use(world, ANN, codes[0]).accepted  # another factor still works
    world.clock.now = T0 + 3030
    assert totp_factor.verify(world, ANN, wrong).outcome is Outcome.WRONG
    assert totp_factor.verify(world, ANN, app.at(world.clock.now)).retry_at == T0 + 3090
    world.clock.now = T0 + 3090
    assert totp_factor.verify(world, ANN, app.at(world.clock.now)).accepted
    world.clock.now = T0 + 3120
    assert totp_factor.verify(world, ANN, wrong).outcome is Outcome.WRONG  # count restarted
    assert totp_factor.verify(world, ANN, app.at(world.clock.now)).accepted
    assert [totp_factor.wait_after(n) for n in (4, 5, 6, 12, 40)] == [0, 30, 60, 3600, 3600]


def test_recovery_codes_work_once_typed_any_way_and_regenerating_replaces_them(world) -> None:
    with pytest.raises(DirectoryError, match="enrol"):
        recovery_codes.regenerate(world, ANN)
    _, codes = enrol_totp(world, ANN)
    assert recovery_codes.use(world, ANN, codes[3].upper().replace("-", " ")).accepted
    assert recovery_codes.use(world, ANN, codes[3]).outcome is Outcome.WRONG
    assert recovery_codes.use(world, BOB, codes[4]).outcome is Outcome.WRONG
    assert recovery_codes.use(world, ANN, "x" * 500).outcome is Outcome.WRONG
    assert status(world, ANN).enrolment.recovery_codes_left == 9
    assert audit(world, "mfa.recovery_code.use") == [{"left": 9}]
    fresh = recovery_codes.regenerate(world, ANN)
    assert not set(fresh) & set(codes)
    assert recovery_codes.use(world, ANN, codes[4]).outcome is Outcome.WRONG
    assert recovery_codes.use(world, ANN, fresh[0]).accepted


def test_a_database_copy_holds_no_usable_secret_and_the_audit_log_none(world) -> None:
    enrolment = totp_factor.begin(world, ANN)
    codes = totp_factor.confirm(world, ANN, pyotp.TOTP(enrolment.secret).at(T0))
    with world.reader.connect() as conn:
        stored = conn.execute(select(schema.totp_factors.c.secret)).scalar_one()
        hashes = [r.code_hash for r in conn.execute(select(schema.recovery_codes))]
        logged = " ".join(r.details for r in conn.execute(select(schema.audit_log)))
    assert enrolment.secret.encode() not in bytes(stored)
    for code in codes:
        assert code not in logged and code.replace("-", "") not in " ".join(hashes)
    assert enrolment.secret not in logged


def test_required_per_plan_and_department_with_their_authority(world) -> None:
    assert not status(world, ANN).required
    with pytest.raises(NotAllowed, match="mail team"):
        mfa.set_required(world, actor(world, HD), "plan", "standard", True)
    with pytest.raises(NotAllowed, match="dept-admin of Physics"):
        mfa.set_required(world, actor(world, HD), "department", "Physics", True)
    assert mfa.set_required(world, actor(world, DA), "department", "Physics", True)
    assert not mfa.set_required(world, actor(world, DA), "department", "Physics", True)
    assert status(world, BOB).required_by == ("department Physics",)
    assert status(world, BOB).must_enrol and not status(world, ANN).required
    assert mfa.set_required(world, SYSTEM, "plan", "standard", True)
    assert status(world, BOB).required_by == ("plan standard", "department Physics")
    assert status(world, ANN).required_by == ("plan standard",)
    with pytest.raises(DirectoryError):
        mfa.set_required(world, SYSTEM, "account", ANN, True)
    assert [(a["before"], a["after"]) for a in audit(world, "mfa.require")] == [
        (False, True), (False, True)]
    enrol_totp(world, BOB)
    assert not status(world, BOB).must_enrol
    assert mfa.set_required(world, actor(world, DA), "department", "Physics", False)
    assert status(world, BOB).required_by == ("plan standard",)


def test_account_show_reports_mfa(world) -> None:
    mfa.set_required(world, SYSTEM, "plan", "standard", True)
    with world.reader.connect() as conn:
        shown = report(conn, account_row(conn, ANN), T0)
    assert shown.as_json()["mfa"] == {
        "required": True, "required_by": ["plan standard"], "methods": [],
        "must_enrol": True, "totp_confirmed_at": None, "webauthn": [],
        "recovery_codes_left": 0}
    assert shown.mfa.summary() == ("required by plan standard; nothing enrolled (must enrol at "
                                   "next sign-in); 0 recovery codes left")


def test_reset_by_the_help_desk_not_by_the_user_nor_staff_on_themselves(world) -> None:
    enrol_totp(world, ANN)
    enrol_totp(world, HD)
    with pytest.raises(NotAllowed, match="help desk"):
        mfa.reset(world, actor(world, BOB), ANN, "asked")
    with pytest.raises(NotAllowed, match="ask a colleague"):
        mfa.reset(world, actor(world, HD), HD, "lost my phone")
    with pytest.raises(DirectoryError, match="reason"):
        mfa.reset(world, actor(world, HD), ANN, " ")
    removed = mfa.reset(world, actor(world, HD), ANN, "phone lost; ID checked at the desk")
    assert removed == {"totp": 1, "webauthn": 0, "recovery_codes": 10}
    assert status(world, ANN).enrolment == mfa_state.Enrolment(None, (), 0)
    assert audit(world, "mfa.reset")[-1] == {"reason": "phone lost; ID checked at the desk",
                                            "removed": removed}
    enrol_totp(world, ANN)  # enrols again


def test_factors_survive_compromise_for_the_investigation_and_go_at_restore(world) -> None:
    app, codes = enrol_totp(world, ANN)
    accounts.compromise(world, actor(world, HD), ANN, "phished")
    assert status(world, ANN).enrolment.methods == ("totp",)  # visible to the help desk
    with pytest.raises(NotAllowed, match="compromised"):
        totp_factor.verify(world, ANN, app.at(T0 + 30))
    with pytest.raises(NotAllowed):
        recovery_codes.use(world, ANN, codes[0])
    with pytest.raises(NotAllowed):
        totp_factor.begin(world, ANN)
    accounts.restore(world, actor(world, HD), ANN, "new-pass-2", "ID card checked")
    assert status(world, ANN).enrolment == mfa_state.Enrolment(None, (), 0)
    assert audit(world, "account.restore")[-1]["before"]["mfa"] == {
        "totp": 1, "webauthn": 0, "recovery_codes": 10}
    assert recovery_codes.use(world, ANN, codes[0]).outcome is Outcome.WRONG
    enrol_totp(world, ANN)


async def test_the_sign_in_pages_interface(world) -> None:
    factors = MultiFactor(world)
    state = await factors.second_factor(ANN)
    assert (state.needed, state.must_enrol) == (False, False)
    mfa.set_required(world, SYSTEM, "plan", "standard", True)
    state = await factors.second_factor(ANN)
    assert (state.needed, state.must_enrol, state.required_by) == (True, True,
                                                                   ("plan standard",))
    enrolment = await factors.totp_enrol_begin(ANN)
    app = pyotp.TOTP(enrolment.secret)
    codes = await factors.totp_enrol_confirm(ANN, app.at(T0))
    state = await factors.second_factor(ANN)
    assert (state.needed, state.must_enrol, state.methods, state.recovery_codes_left) == (
        True, False, ("totp",), 10)
    world.clock.now = T0 + 30
    assert (await factors.verify_totp(ANN, app.at(T0 + 30))).accepted
    assert (await factors.verify_recovery_code(ANN, codes[0])).accepted
    assert len(await factors.new_recovery_codes(ANN)) == 10
    assert await factors.webauthn_begin(ANN) is None  # no security key: nothing to ask
    mfa.set_required(world, SYSTEM, "plan", "standard", False)
    assert (await factors.second_factor(ANN)).needed  # enrolled of its own accord

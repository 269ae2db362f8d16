"""The web session's second step and `/account/mfa` against the Starlette app in process,
with a clock the test moves: a half session is not signed in, a second factor proved long
ago is not fresh enough to change factors, and an account removes only its own factors,
never the last one MFA requires. Each answer of the second step waits out the failed sign-in
throttle and is recorded."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pyotp
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from mailgate.audit.recorder import Recorder
from mailgate.auth.gate import Gate
from mailgate.auth.mfa import MultiFactor
from mailgate.auth.second_step import SecondStep
from mailgate.auth.throttle import SigninThrottle
from mailgate.db.schema import audit_log
from mailgate.directory import accounts, mfa, mfa_state, totp_factor
from mailgate.directory.authority import Actor
from mailgate.directory.errors import NotAllowed, NotFound
from mailgate.directory.views import account_row
from mailgate.http.app import build_app
from mailgate.http.oauth.provider import Provider
from mailgate.http.websession import FRESH_SECONDS, WebSessions
from mailgate.service import Service

ANN, BOB = "ann@example.test", "bob@example.test"
PASSWORD = "ann-pass-1234"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(sqlite_svc: Service) -> Iterator[tuple[Service, Clock, TestClient]]:
    svc = sqlite_svc
    clock = Clock(svc.clock())
    svc.clock = clock
    for address in (ANN, BOB):
        accounts.create(svc, Actor.system(), address, PASSWORD)
    gate = Gate(svc, Recorder(svc))
    app = build_app(lambda: 0, Provider(svc, gate, WebSessions(svc)))
    with TestClient(app, base_url="https://testserver") as client:
        yield svc, clock, client
    gate.close()


def enrol(svc: Service, clock: Clock, address: str) -> pyotp.TOTP:
    begun = totp_factor.begin(svc, address)
    totp = pyotp.TOTP(begun.secret)
    totp_factor.confirm(svc, address, totp.at(clock.now))
    return totp


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


def sign_in(client: TestClient, address: str) -> str:
    """Password step; the path it leads to."""
    page = client.get("/signin?next=/account/mfa")
    answer = client.post("/signin", data={"csrf": csrf(page.text), "next": "/account/mfa",
                                          "address": address, "password": PASSWORD},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def test_a_half_session_is_not_signed_in_until_its_code(world) -> None:  # type: ignore[no-untyped-def]
    svc, clock, client = world
    totp = enrol(svc, clock, ANN)
    clock.now += 30
    step = sign_in(client, ANN)
    assert urlsplit(step).path == "/signin/second-factor"
    for path in ("/account/mfa", "/signin?next=/account/mfa"):
        assert client.get(path, follow_redirects=False).headers["location"] == \
            "/signin/second-factor?next=%2Faccount%2Fmfa", path
    page = client.get(step)
    done = client.post("/signin/second-factor", follow_redirects=False, data={
        "csrf": csrf(page.text), "next": "/account/mfa", "factor": "totp",
        "answer": totp.at(clock.now)})
    assert done.status_code == 303 and done.headers["location"] == "/account/mfa"
    assert client.get("/account/mfa").status_code == 200


def test_changing_factors_needs_a_fresh_second_factor(world) -> None:  # type: ignore[no-untyped-def]
    svc, clock, client = world
    totp = enrol(svc, clock, ANN)
    clock.now += 30
    page = client.get(sign_in(client, ANN))
    client.post("/signin/second-factor", data={"csrf": csrf(page.text), "next": "/account/mfa",
                                                "factor": "totp", "answer": totp.at(clock.now)})
    clock.now += FRESH_SECONDS + 30
    home = client.get("/account/mfa")
    assert home.status_code == 200  # still signed in, but not fresh:
    for path, data in (("/account/mfa/remove", {"factor": "totp"}),
                       ("/account/mfa/recovery-codes", {})):
        answer = client.post(path, data={"csrf": csrf(home.text), **data},
                             follow_redirects=False)
        assert answer.headers["location"] == \
            "/signin/second-factor?confirm=1&next=%2Faccount%2Fmfa", path
    assert client.get("/account/mfa/security-key", follow_redirects=False).status_code == 303
    confirm = client.get("/signin/second-factor?confirm=1&next=%2Faccount%2Fmfa")
    assert "Confirm it is you" in confirm.text
    client.post("/signin/second-factor", data={
        "csrf": csrf(confirm.text), "next": "/account/mfa", "confirm": "1", "factor": "totp",
        "answer": totp.at(clock.now)})
    removed = client.post("/account/mfa/remove", follow_redirects=False,
                          data={"csrf": csrf(home.text), "factor": "totp"})
    assert removed.headers["location"] == "/account/mfa?done=removed"
    with svc.reader.connect() as conn:
        assert mfa_state.status(conn, account_row(conn, ANN)).enrolment.methods == ()


def test_an_account_removes_only_its_own_factors_and_not_the_last_required_one(
        world) -> None:  # type: ignore[no-untyped-def]
    svc, clock, _client = world
    enrol(svc, clock, ANN)
    with pytest.raises(NotFound):
        mfa.remove_own(svc, BOB, "totp")
    with pytest.raises(NotFound):
        mfa.remove_own(svc, ANN, "webauthn:1")
    mfa.set_required(svc, Actor.system(), "plan", "standard", True)
    with pytest.raises(NotAllowed, match="add another factor"):
        mfa.remove_own(svc, ANN, "totp")


def test_wrong_answers_wait_out_the_sign_in_throttle_and_are_recorded(
        sqlite_svc: Service) -> None:
    svc = sqlite_svc
    accounts.create(svc, Actor.system(), ANN, PASSWORD)
    totp = enrol(svc, Clock(svc.clock()), ANN)
    recorder = Recorder(svc)
    gate = Gate(svc, recorder)
    gate.throttle = SigninThrottle(free_failures=2, max_delay=0.2)
    step = SecondStep(gate, MultiFactor(svc))
    account_id = accounts_id(svc, ANN)

    async def answers() -> list[tuple[str, float]]:
        out = []
        for factor, answer in (("totp", "000000" if totp.now() != "000000" else "111111"),
                               ("recovery_code", "aaaa-bbbb-cccc-dddd"), ("totp", "12"),
                               ("nonsense", "x"), ("totp", totp.at(svc.clock() + 30))):
            t0 = time.perf_counter()
            verdict = await step.check(account_id, ANN, factor, answer, "192.0.2.7",
                                       svc.clock())
            out.append((verdict.outcome.value, time.perf_counter() - t0))
        return out

    got = asyncio.run(answers())
    gate.close()
    assert [outcome for outcome, _ in got] == ["wrong"] * 4 + ["accepted"]
    assert all(took < 0.2 for _, took in got[:2])  # the free failures
    assert all(took >= 0.2 for _, took in got[3:])  # past them, every answer waits first
    recorder.flush()
    with svc.reader.connect() as conn:
        rows = [json.loads(d) for d in conn.execute(select(audit_log.c.details).where(
            audit_log.c.action == "signin")).scalars()]
    assert [(r["protocol"], r["method"], r["reason"]) for r in rows] == [
        ("web", "totp", "bad_second_factor"), ("web", "recovery_code", "bad_second_factor"),
        ("web", "totp", "bad_second_factor"), ("web", "unknown", "bad_second_factor"),
        ("web", "totp", "second_factor")]
    assert all(r["peer"] == "192.0.2.7" for r in rows)


def accounts_id(svc: Service, address: str) -> int:
    with svc.reader.connect() as conn:
        return int(account_row(conn, address).id)

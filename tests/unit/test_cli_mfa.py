"""`mailgate mfa require|status|reset` and the MFA line of `account show`, through the CLI's
own main() in this process, on every backend."""

from __future__ import annotations

import json
from pathlib import Path

import pyotp
import pytest

from mailgate.directory import totp_factor
from mailgate.service import Service
from support import BACKENDS, _postgres_database, run_inprocess

D = "example.test"
ANN, BOB, HD = f"ann@{D}", f"bob@{D}", f"hd@{D}"


@pytest.fixture(params=BACKENDS)
def data(request: pytest.FixtureRequest, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Path:
    """ann, bob (department Physics) and hd (helpdesk); ann has TOTP."""
    if request.param == "postgresql":
        monkeypatch.setenv("MAILGATE_STORAGE_DATABASE_URL", _postgres_database())
    data = tmp_path / "data"
    for args in (("init",), ("department", "create", "Physics"), ("account", "create", ANN),
                 ("account", "create", BOB, "--department", "Physics"),
                 ("account", "create", HD), ("role", "grant", HD, "helpdesk")):
        assert run_inprocess(data, *args).returncode == 0, args
    svc = Service.open(data)
    try:
        enrolment = totp_factor.begin(svc, ANN)
        totp_factor.confirm(svc, ANN, pyotp.TOTP(enrolment.secret).now())
    finally:
        svc.dispose()
    return data


def test_require_status_and_account_show(data: Path) -> None:
    done = run_inprocess(data, "mfa", "require", "department", "Physics", "on")
    assert (done.returncode, done.stdout) == (0, "MFA is required by department Physics\n")
    again = run_inprocess(data, "mfa", "require", "department", "Physics", "on")
    assert again.stdout == "MFA is required by department Physics (unchanged)\n"
    refused = run_inprocess(data, "mfa", "require", "plan", "standard", "on", acting_as=HD)
    assert refused.returncode == 1
    assert refused.stderr == "mailgate: only the mail team (admin) can require MFA of a plan\n"
    shown = json.loads(run_inprocess(data, "mfa", "status", BOB, "--json").stdout)
    assert shown["address"] == BOB and shown["required_by"] == ["department Physics"]
    assert shown["must_enrol"] is True and shown["methods"] == []
    text = run_inprocess(data, "mfa", "status", ANN).stdout
    assert text.startswith(f"{ANN}: MFA optional; totp; 10 recovery codes left\ntotp: since ")
    account = run_inprocess(data, "account", "show", BOB).stdout
    assert "mfa: required by department Physics; nothing enrolled (must enrol at next " \
           "sign-in); 0 recovery codes left" in account
    assert json.loads(run_inprocess(data, "account", "show", ANN, "--json").stdout)["mfa"][
        "methods"] == ["totp"]
    assert run_inprocess(data, "mfa", "status", ANN, acting_as=BOB).returncode == 1


def test_reset_by_the_help_desk_is_audited(data: Path) -> None:
    refused = run_inprocess(data, "mfa", "reset", ANN, "--reason", "asked", acting_as=BOB)
    assert refused.returncode == 1 and "help desk" in refused.stderr
    done = run_inprocess(data, "mfa", "reset", ANN, "--reason", "phone lost; ID checked",
                         acting_as=HD)
    assert (done.returncode, done.stdout) == (0, f"MFA of {ANN} reset: removed TOTP 1, "
                                                 "security keys 0, unused recovery codes 10\n")
    logged = json.loads(run_inprocess(data, "audit", "--account", ANN, "--json").stdout)
    reset = [e for e in logged if e["action"] == "mfa.reset"]
    assert len(reset) == 1 and reset[0]["actor"] == HD
    assert json.loads(run_inprocess(data, "mfa", "status", ANN, "--json").stdout)[
        "methods"] == []

"""The admin API's sign-in rules, sending limits, MFA and DNS endpoints against a real
`mailgate serve`, each proved by what a real client or the CLI then sees: `methods set` makes
an imaplib password LOGIN refused in SPEC §5's words, `network set` shuts IMAP to loopback,
`plan sending` limits a real SMTP submission and drops its Sent copy, `mfa status` follows
`mfa require` and `mfa reset`, and `dns` answers the CLI's records."""

from __future__ import annotations

import imaplib
import json
import smtplib
from collections.abc import Iterator

import pyotp
import pytest
from admin_client import DEPARTMENT, DEPT_ADMIN, HELPDESK, PASSWORD, USER, AdminApi, staff_api
from live_server import start_server
from smtp_clients import mailbox, message

from mailgate.directory import totp_factor
from mailgate.service import Service
from support import run_inprocess


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminApi]:
    server = start_server(tmp_path_factory.mktemp("admin-api-policy") / "data",
                          ("imap", "submission", "http"))
    try:
        yield staff_api(server)
    finally:
        server.stop()
    server.assert_clean_exit()


def _account(api: AdminApi, address: str, department: str | None = None) -> str:
    api.ok("admin", "POST", "/accounts", {"address": address, "password": PASSWORD,
                                          "department": department})
    return address


def imap_login(api: AdminApi, address: str, secret: str) -> str:
    """The answer to a real LOGIN: "OK" or the refusal's text."""
    client = imaplib.IMAP4("127.0.0.1", api.server.ports["imap"], timeout=10)
    try:
        client.login(address, secret)
    except imaplib.IMAP4.error as error:
        return str(error)
    finally:
        client.shutdown()
    return "OK"


def _entries(api: AdminApi, action: str) -> list[dict[str, object]]:
    """The audit entries of one action (sign-ins reach the log in batches, in between)."""
    return [e for e in api.ok("admin", "GET", "/audit")  # type: ignore[union-attr]
            if e["action"] == action]


def _newest(api: AdminApi, action: str) -> dict[str, object]:
    return _entries(api, action)[-1]


def _cli_refusal(api: AdminApi, *argv: str) -> str:
    done = run_inprocess(api.server.data, *argv)
    assert done.returncode != 0, argv
    return done.stderr.strip().removeprefix("mailgate: ")


def test_methods_set_refuses_a_real_password_login_in_the_spec_words(api: AdminApi) -> None:
    assert imap_login(api, USER, PASSWORD) == "OK"
    secret = api.ok("admin", "POST", f"/accounts/{USER}/app-passwords",
                    {"protocols": ["imap"]})["secret"]  # type: ignore[index]
    rule = api.ok("dept-admin", "PUT", f"/departments/{DEPARTMENT}/methods/imap4",
                  {"methods": ["oauth", "app-password"]})
    assert rule == {"scope": "department", "name": DEPARTMENT, "protocol": "imap",
                    "methods": ["app_password", "oauth"]}
    refused = imap_login(api, USER, PASSWORD)
    assert "[CONTACTADMIN] ModernAuthRequired: IMAP does not accept password sign-in for " \
           "this account; sign in with an app password or OAuth instead." in refused
    assert imap_login(api, USER, secret) == "OK"  # type: ignore[arg-type]
    assert "AUTHENTICATIONFAILED" in imap_login(api, USER, "wrong password")
    entry = _newest(api, "methods.set")
    assert (entry["actor"], entry["role"], entry["methods"]) == (
        DEPT_ADMIN, "dept-admin", ["app_password", "oauth"])

    lifted = api.ok("dept-admin", "PUT", f"/departments/{DEPARTMENT}/methods/imap",
                    {"methods": "all"})
    assert lifted["methods"] == "all"  # type: ignore[index]
    assert imap_login(api, USER, PASSWORD) == "OK"


def test_methods_set_per_account_and_its_refusals(api: AdminApi) -> None:
    address = _account(api, "solo@example.test")
    rule = api.ok("admin", "PUT", f"/accounts/{address.upper()}/methods/imap",
                  {"methods": ["oauth"]})
    assert rule == {"scope": "account", "name": address, "protocol": "imap",
                    "methods": ["oauth"]}
    assert _newest(api, "methods.set")["account"] == address
    assert "ModernAuthRequired: IMAP does not accept password sign-in" in \
        imap_login(api, address, PASSWORD)
    assert imap_login(api, USER, PASSWORD) == "OK"  # another account keeps every method
    before = _entries(api, "methods.set")
    for body, argv in (({"methods": ["carrier-pigeon"]}, "carrier-pigeon"),
                       ({"methods": []}, ",")):
        answer = api.call("admin", "PUT", f"/accounts/{address}/methods/imap", body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"] == _cli_refusal(
            api, "methods", "set", "account", address, "imap", argv)
    missing = api.call("admin", "PUT", "/plans/nonesuch/methods/imap", {"methods": "all"})
    assert (missing.status_code, missing.json()["detail"]) == (404, "no plan 'nonesuch'")
    assert _entries(api, "methods.set") == before
    api.ok("admin", "PUT", f"/accounts/{address}/methods/imap", {"methods": "all"})
    assert imap_login(api, address, PASSWORD) == "OK"


def test_network_set_shuts_a_door_to_other_networks(api: AdminApi) -> None:
    address = _account(api, "roamer@example.test")
    try:
        rule = api.ok("admin", "PUT", "/networks/imap",
                      {"networks": [" 192.0.2.7/24", "2001:db8::/32"]})
        assert rule == {"protocol": "imap", "networks": ["192.0.2.0/24", "2001:db8::/32"]}
        refused = imap_login(api, address, PASSWORD)
        assert "[CONTACTADMIN] ProtocolDisabled: IMAP is only available from the " \
               "organisation's allowed networks." in refused
        entry = _newest(api, "networks.set")
        assert entry["networks"] == ["192.0.2.0/24", "2001:db8::/32"]
        bad = api.call("admin", "PUT", "/networks/imap", {"networks": ["10.0.0.300/8"]})
        assert (bad.status_code, bad.json()["detail"]) == (
            422, _cli_refusal(api, "network", "set", "imap", "10.0.0.300/8"))
        with_loopback = api.ok("admin", "PUT", "/networks/imap",
                               {"networks": ["192.0.2.0/24", "127.0.0.0/8"]})
        assert with_loopback["networks"] == ["192.0.2.0/24", "127.0.0.0/8"]  # type: ignore[index]
        assert imap_login(api, address, PASSWORD) == "OK"
    finally:
        anywhere = api.ok("admin", "PUT", "/networks/imap", {"networks": []})
    assert anywhere == {"protocol": "imap", "networks": []}
    assert imap_login(api, address, PASSWORD) == "OK"


def _submit(api: AdminApi, sender: str, subject: str) -> tuple[int, bytes]:
    """Submit one message to the sender itself; the answer to its MAIL FROM."""
    client = smtplib.SMTP("127.0.0.1", api.server.ports["submission"], timeout=10)
    try:
        client.login(sender, PASSWORD)
        answer = client.mail(sender)
        if answer[0] == 250:
            assert client.rcpt(sender)[0] == 250
            assert client.data(message(sender, sender, subject))[0] == 250
        return answer
    finally:
        client.quit()


def test_plan_sending_limits_a_real_submission_and_drops_the_sent_copy(api: AdminApi) -> None:
    shown = api.ok("admin", "GET", "/plans/standard/sending")
    cli = json.loads(api.server.cli("plan", "sending", "standard", "--json").stdout)
    assert shown == cli == {"plan": "standard", "messages_per_hour": 200,
                            "recipients_per_hour": 1000, "sent_copy": True}
    sender = _account(api, "sender@example.test")
    changed = api.ok("admin", "PATCH", "/plans/standard/sending",
                     {"messages_per_hour": 1, "sent_copy": False})
    assert changed == {"plan": "standard", "messages_per_hour": 1,
                       "recipients_per_hour": 1000, "sent_copy": False}
    try:
        assert _submit(api, sender, "first of the hour")[0] == 250
        code, text = _submit(api, sender, "one too many")
        assert code == 451 and text.startswith(b"4.7.1 Sending limit reached: ")
        assert b"at most 1 messages per hour" in text
        assert [m for m in mailbox(api.server, sender, PASSWORD) if b"first of the" in m]
        assert not mailbox(api.server, sender, PASSWORD, "Sent")
        entry = _newest(api, "plan.sending")
        assert (entry["actor"], entry["after"]) == ("ops@example.test", {
            "messages_per_hour": 1, "recipients_per_hour": 1000, "sent_copy": False})
        before = _entries(api, "plan.sending")
        for body, flag in (({"messages_per_hour": 0}, "0"),
                           ({"recipients_per_hour": 10**12}, str(10**12))):
            refused = api.call("admin", "PATCH", "/plans/standard/sending", body)
            option = "--" + next(iter(body)).replace("_", "-")
            assert (refused.status_code, refused.json()["detail"]) == (
                422, _cli_refusal(api, "plan", "sending", "standard", option, flag))
        assert _entries(api, "plan.sending") == before
    finally:
        lifted = api.ok("admin", "PATCH", "/plans/standard/sending",
                        {"messages_per_hour": None, "recipients_per_hour": "none",
                         "sent_copy": True})
    assert lifted == {"plan": "standard", "messages_per_hour": None,
                      "recipients_per_hour": None, "sent_copy": True}
    assert _submit(api, sender, "no limit now")[0] == 250
    kept = api.ok("admin", "PATCH", "/plans/standard/sending", {})
    assert kept == lifted


def test_mfa_status_follows_mfa_require_and_reset(api: AdminApi) -> None:
    address = _account(api, "second@example.test", DEPARTMENT)
    status = f"/accounts/{address}/mfa"
    assert api.ok("helpdesk", "GET", status)["required"] is False  # type: ignore[index]
    made = api.ok("dept-admin", "PUT", f"/departments/{DEPARTMENT}/mfa", {"value": "on"})
    assert made == {"scope": "department", "name": DEPARTMENT, "required": True,
                    "changed": True}
    again = api.ok("dept-admin", "PUT", f"/departments/{DEPARTMENT}/mfa", {"value": "on"})
    assert again["changed"] is False  # type: ignore[index]
    shown = api.ok("helpdesk", "GET", status)
    assert shown == json.loads(api.server.cli("mfa", "status", address, "--json").stdout)
    assert (shown["required_by"], shown["must_enrol"]) == (  # type: ignore[index]
        [f"department {DEPARTMENT}"], True)

    svc = Service.open(api.server.data)
    try:
        enrolment = totp_factor.begin(svc, address)
        totp_factor.confirm(svc, address, pyotp.TOTP(enrolment.secret).now())
    finally:
        svc.dispose()
    enrolled = api.ok("helpdesk", "GET", status)
    assert (enrolled["methods"], enrolled["must_enrol"]) == (["totp"], False)  # type: ignore[index]
    refused = api.call("helpdesk", "POST", f"/accounts/{HELPDESK}/mfa/reset",
                       {"reason": "mine"})
    assert refused.json()["detail"] == "staff cannot reset their own account's MFA; ask a " \
                                       "colleague"
    blank = api.call("helpdesk", "POST", f"{status}/reset", {"reason": " "})
    assert (blank.status_code, blank.json()["detail"]) == (
        422, _cli_refusal(api, "mfa", "reset", address, "--reason", " "))
    reset = api.ok("helpdesk", "POST", f"{status}/reset",
                   {"reason": "lost phone; identity checked by video call"})
    assert reset == {"address": address, "removed": {
        "totp": 1, "webauthn": 0, "recovery_codes": enrolled["recovery_codes_left"]}}  # type: ignore[index]
    after = api.ok("helpdesk", "GET", status)
    assert (after["methods"], after["must_enrol"]) == ([], True)  # type: ignore[index]
    entry = _newest(api, "mfa.reset")
    assert (entry["actor"], entry["account"], entry["reason"]) == (
        HELPDESK, address, "lost phone; identity checked by video call")

    api.ok("admin", "PUT", f"/departments/{DEPARTMENT}/mfa", {"value": "off"})
    assert api.ok("user", "GET", f"/accounts/{USER}/mfa")["required"] is False  # type: ignore[index]


def test_dns_answers_the_cli_records_to_any_key(api: AdminApi) -> None:
    records = api.ok("user", "GET", "/dns/example.test")
    assert records == json.loads(api.server.cli("dns", "example.test", "--json").stdout)
    imap = [r for r in records if r["name"] == "_imap._tcp.example.test."]  # type: ignore[union-attr, index]
    assert imap == [{"name": "_imap._tcp.example.test.", "type": "SRV", "priority": 5,
                     "weight": 1, "port": api.server.ports["imap"], "target": "localhost.",
                     "door": "imap"}]
    cname = [r for r in records if r["type"] == "CNAME"]  # type: ignore[union-attr, index]
    assert cname[0] == {"name": "autoconfig.example.test.", "type": "CNAME",
                        "target": "localhost."}
    for bad in ("not a domain", "example-.test", "example..test"):
        answer = api.call("user", "GET", f"/dns/{bad}")
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"] == _cli_refusal(api, "dns", bad)

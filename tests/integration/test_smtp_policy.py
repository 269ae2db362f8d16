"""The `smtp` door obeys the policy: refusals in SPEC §5 words, live sessions ended with
`421 4.7.0` within a second when the door closes, and sign-ins and sends in the evidence."""

from __future__ import annotations

import json
import smtplib
import time
from collections.abc import Iterator

import pytest
from live_server import RunningServer
from smtp_clients import Conversation, at_once, mailbox, message, serving, tls

PASSWORD = "correct-horse-battery"
PAT, QUINN, RITA = "pat@example.test", "quinn@example.test", "rita@example.test"
DEADLINE, CAP = 2, 3  # auth.signin_deadline_seconds, auth.max_unauthenticated_per_address


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    limits = {"MAILGATE_AUTH_SIGNIN_DEADLINE_SECONDS": str(DEADLINE),
              "MAILGATE_AUTH_MAX_UNAUTHENTICATED_PER_ADDRESS": str(CAP)}
    for running in serving(tmp_path_factory.mktemp("smtp-policy") / "data", limits):
        at_once((running.cli, "department", "create", "Physics"),
                (running.account, QUINN, PASSWORD), (running.account, RITA, PASSWORD))
        at_once((running.account, PAT, PASSWORD, "--department", "Physics"),
                (running.cli, "methods", "set", "account", RITA, "smtp", "app_password,oauth"))
        yield running


def _signed_in(server: RunningServer, address: str, password: str = PASSWORD) -> smtplib.SMTP:
    client = smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], context=tls(server),
                              timeout=10)
    client.login(address, password)
    return client


def _refusal(server: RunningServer, address: str, password: str = PASSWORD) -> bytes:
    client = smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], context=tls(server),
                              timeout=10)
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        client.login(address, password)
    client.close()
    assert refused.value.smtp_code == 535
    return bytes(refused.value.smtp_error)


def _closed_within_a_second(client: smtplib.SMTP) -> str:
    """The reply the server sends on its own when the door closes, and the time it took."""
    started = time.monotonic()
    code, text = client.getreply()
    assert time.monotonic() - started < 1.0
    assert code == 421
    return text.decode()


def _detail(server: RunningServer, address: str) -> str:
    shown = json.loads(server.cli("account", "show", address, "--json").stdout)
    return str(shown["protocols"]["smtp"]["detail"])


def test_department_deny_ends_live_sessions_and_refuses_with_the_sentence(
        server: RunningServer) -> None:
    live = _signed_in(server, PAT)
    server.cli("department", "policy", "Physics", "smtp", "deny")
    assert _closed_within_a_second(live).startswith("4.7.0 ProtocolDisabled: SMTP sending")
    refused = _refusal(server, PAT).decode()
    assert refused == f"5.7.139 ProtocolDisabled: {_detail(server, PAT)}"
    assert "department Physics" in refused
    server.cli("department", "policy", "Physics", "smtp", "inherit")
    _signed_in(server, PAT).quit()


def test_compromise_ends_the_session_and_restore_opens_the_door_with_a_new_password(
        server: RunningServer) -> None:
    live = _signed_in(server, QUINN)
    live.mail(QUINN)
    server.cli("account", "compromise", QUINN, "--reason", "phished")
    text = _closed_within_a_second(live)
    assert text.startswith("4.7.0 ProtocolDisabled:") and "compromised" in text
    assert _refusal(server, QUINN).startswith(b"5.7.139 ProtocolDisabled:")
    server.cli("account", "restore", QUINN, "--password-stdin", "--note", "verified by phone",
               stdin="a brand new password\n")
    assert _refusal(server, QUINN).startswith(b"5.7.8 ")
    client = _signed_in(server, QUINN, "a brand new password")
    client.sendmail(QUINN, [PAT], message(QUINN, PAT, "after restore"))
    client.quit()
    assert [m for m in mailbox(server, PAT, PASSWORD) if b"after restore" in m]
    usage_run, audit_run = at_once((server.cli, "report", "usage", "--json"),
                                   (server.cli, "audit", "--account", QUINN, "--json"))
    usage = json.loads(usage_run.stdout)
    mine = [u for u in usage if u["account"] == QUINN and u["protocol"] == "smtp"]
    assert mine and mine[0]["method"] == "password" and mine[0]["successes"] >= 2
    audit = json.loads(audit_run.stdout)
    assert [e for e in audit if e["action"] == "send" and e["protocol"] == "smtp"]


def test_modern_auth_required_is_said_as_such(server: RunningServer) -> None:
    assert _refusal(server, RITA).startswith(b"5.7.139 ModernAuthRequired: ")


def test_connections_not_signed_in_share_the_cap_and_the_deadline(
        server: RunningServer) -> None:
    waiting = [Conversation(server.ports[name]) for name in ("submission", "smtp", "lmtp")]
    refused = Conversation(server.ports["submission"])
    assert refused.greeting == ["421 4.7.0 Too many connections from your address; try again "
                                "later"]
    refused.close()
    started = time.monotonic()
    assert waiting[0].command(b"EHLO client.example").startswith("250 ")
    assert waiting[0].reply() == ["421 4.4.2 Sign-in took too long; closing the connection"]
    assert waiting[1].reply()[0].startswith("421 4.4.2 Connection time limit reached")
    assert time.monotonic() - started < DEADLINE + 1
    for talk in waiting:
        talk.close()

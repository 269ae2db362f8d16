"""Modern authentication against a real `mailgate serve`: curl signs in with a token from
`mailgate token issue` on IMAP, POP3 and SMTP (OAUTHBEARER), imaplib with XOAUTH2; "IMAP:
oauth only" refuses passwords with ModernAuthRequired; app passwords open only their doors;
`compromise` ends a token-signed IDLE session within a second and every credential fails."""

from __future__ import annotations

import base64
import imaplib
import json
import poplib
import shutil
import smtplib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import RunningServer, start_server, wait_until

from mailgate.directory import accounts, app_passwords, doors, tokens
from mailgate.directory.authority import Actor
from mailgate.service import Service

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")

PASSWORD = "correct-horse-battery"
SYSTEM = Actor.system()
MESSAGE = b"From: {a}\r\nTo: {a}\r\nSubject: token\r\n\r\nsent with a token\r\n"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("modern") / "data",
                           ("imap", "pop3", "submission", "http"))
    yield running
    running.stop_cleanly()


@pytest.fixture(scope="module")
def svc(live: RunningServer) -> Iterator[Service]:
    """The server's data directory, for setting up without a CLI process per step (the
    commands under test still run as `mailgate ...`)."""
    service = Service.open(live.data)
    yield service
    service.dispose()


def account(svc: Service, address: str, department: str | None = None) -> str:
    accounts.create(svc, SYSTEM, address, PASSWORD, department=department)
    doors.set_protocol(svc, SYSTEM, address, "pop", True)
    return address


def token(svc: Service, address: str, *protocols: str) -> str:
    return tokens.issue(svc, SYSTEM, address, protocols).token


def cli_token(live: RunningServer, address: str, *protocols: str) -> str:
    args = [arg for p in protocols for arg in ("--protocol", p)]
    return live.cli("token", "issue", address, *args).stdout.splitlines()[-1]


def app_password(svc: Service, address: str, *protocols: str) -> str:
    return app_passwords.create(svc, SYSTEM, address, protocols)[1]


def cli_app_password(live: RunningServer, address: str, *protocols: str) -> str:
    args = [arg for p in protocols for arg in ("--protocol", p)]
    return live.cli("app-password", "create", address, *args).stdout.split()[-1]


def curl(live: RunningServer, url: str, bearer: str, user: str, *extra: str
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", "--max-time", "20", "--oauth2-bearer", bearer,
                           "--user", f"{user}:", *extra, url],
                          capture_output=True, text=True, timeout=30)


def imap_url(live: RunningServer) -> str:
    return f"imap://127.0.0.1:{live.ports['imap']}/"


def imap_login(live: RunningServer, address: str, secret: str) -> str:
    """The answer to LOGIN: "OK" or the refusal's text."""
    client = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    try:
        client.login(address, secret)
    except imaplib.IMAP4.error as error:
        return str(error)
    finally:
        client.shutdown()
    return "OK"


def xoauth2(address: str, bearer: str) -> bytes:
    return f"user={address}\x01auth=Bearer {bearer}\x01\x01".encode()


def test_curl_signs_in_to_imap_pop3_and_smtp_with_an_issued_token(
        live: RunningServer, svc: Service, tmp_path: Path) -> None:
    ana = account(svc, "ana@example.test")
    bearer = cli_token(live, ana, "imap", "pop", "smtp")
    message = tmp_path / "message.eml"
    message.write_bytes(MESSAGE.replace(b"{a}", ana.encode()))
    sent = curl(live, f"smtp://127.0.0.1:{live.ports['submission']}/", bearer, ana,
                "--mail-from", ana, "--mail-rcpt", ana, "-T", str(message))
    assert sent.returncode == 0, sent.stderr
    listed = curl(live, imap_url(live), bearer, ana)
    assert listed.returncode == 0 and '"INBOX"' in listed.stdout, listed.stderr
    popped = curl(live, f"pop3://127.0.0.1:{live.ports['pop3']}/1", bearer, ana)
    assert popped.returncode == 0 and "sent with a token" in popped.stdout, popped.stderr
    # without a user name the token alone names the account
    client = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    client.authenticate("XOAUTH2", lambda _: xoauth2("", bearer))
    assert client.select("INBOX")[0] == "OK"
    client.logout()


def test_a_token_is_refused_on_a_door_outside_its_scope_and_for_another_account(
        live: RunningServer, svc: Service) -> None:
    ben = account(svc, "ben@example.test")
    smtp_only = token(svc, ben, "smtp")
    refused = curl(live, imap_url(live), smtp_only, ben)
    assert refused.returncode == 67  # curl: login denied
    client = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.authenticate("XOAUTH2", lambda _: xoauth2("ana@example.test",
                                                          token(svc, ben, "imap")))
    client.shutdown()
    pop = poplib.POP3("127.0.0.1", live.ports["pop3"], timeout=10)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        pop._shortcmd("AUTH XOAUTH2 " + base64.b64encode(xoauth2(ben, smtp_only)).decode())
        pop._shortcmd("")
    pop.quit()


def test_oauth_only_imap_refuses_passwords_with_modern_auth_required(
        live: RunningServer, svc: Service) -> None:
    doors.create_department(svc, SYSTEM, "Physics")
    cleo = account(svc, "cleo@example.test", "Physics")
    imap_secret = app_password(svc, cleo, "imap")
    assert imap_login(live, cleo, imap_secret) == "OK"
    live.cli("methods", "set", "department", "Physics", "imap", "oauth")
    refused = imap_login(live, cleo, PASSWORD)
    assert "[CONTACTADMIN] ModernAuthRequired: IMAP does not accept password sign-in" in refused
    assert "ModernAuthRequired" in imap_login(live, cleo, imap_secret)
    assert "AUTHENTICATIONFAILED" in imap_login(live, cleo, "wrong-password")
    assert curl(live, imap_url(live), token(svc, cleo, "imap"), cleo).returncode == 0
    pop = live.pop_session(cleo, PASSWORD)  # POP keeps every method
    pop.quit()


def test_an_app_password_opens_only_its_doors_and_shows_its_last_use(
        live: RunningServer, svc: Service) -> None:
    dana = account(svc, "dana@example.test")
    smtp_secret = cli_app_password(live, dana, "smtp")
    refused = imap_login(live, dana, smtp_secret)
    assert "[CONTACTADMIN] ProtocolDisabled: This app password does not open IMAP" in refused
    with pytest.raises(poplib.error_proto, match=r"SYS/PERM\] ProtocolDisabled: This app"):
        live.pop_session(dana, smtp_secret)
    with smtplib.SMTP("127.0.0.1", live.ports["submission"], timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.login(dana, smtp_secret.upper().replace("-", " "))[0] == 235

    def last_use() -> object:
        listed = json.loads(live.cli("app-password", "list", dana, "--json").stdout)
        return listed[0]["last_used_at"]

    wait_until(last_use, 10, lambda: "the last use was never recorded")
    app_id = json.loads(live.cli("app-password", "list", dana, "--json").stdout)[0]["id"]
    live.cli("app-password", "revoke", dana, str(app_id))
    with smtplib.SMTP("127.0.0.1", live.ports["submission"], timeout=10) as smtp:
        smtp.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.login(dana, smtp_secret)
        assert refused.value.smtp_code == 535 and b"5.7.8" in refused.value.smtp_error


def test_compromise_ends_a_token_idle_session_within_a_second_and_every_credential_fails(
        live: RunningServer, svc: Service) -> None:
    eve = account(svc, "eve@example.test")
    bearer = token(svc, eve, "imap", "pop")
    secret = app_password(svc, eve, "imap", "pop")
    idle = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    idle.authenticate("OAUTHBEARER",
                      lambda _: f"n,a={eve},\x01auth=Bearer {bearer}\x01\x01".encode())
    idle.select("INBOX")
    idle.send(b"i1 IDLE\r\n")
    assert idle.readline().startswith(b"+ ")
    live.cli("account", "compromise", eve, "--reason", "phished")
    done = time.monotonic()
    bye = idle.readline()
    assert time.monotonic() - done < 1.0
    assert bye.startswith(b"* BYE [CONTACTADMIN] ProtocolDisabled: IMAP is turned off")
    idle.shutdown()

    assert curl(live, imap_url(live), bearer, eve).returncode == 67
    assert "AUTHENTICATIONFAILED" in imap_login(live, eve, secret)
    assert "ProtocolDisabled" in imap_login(live, eve, PASSWORD)  # the door is shut
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        live.pop_session(eve, secret)
    listed = json.loads(live.cli("app-password", "list", eve, "--json").stdout)
    assert [entry["status"] for entry in listed] == ["revoked"]

    accounts.restore(svc, SYSTEM, eve, "a-new-password-1", "identity checked")
    assert curl(live, imap_url(live), bearer, eve).returncode == 67  # still revoked

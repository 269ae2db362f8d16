"""The POP3 door driven by clients nobody here wrote: poplib, curl and fetchmail."""

from __future__ import annotations

import json
import poplib
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from live_server import RunningServer

PASSWORD = "correct-horse-battery"


def _msg(n: int, size: int = 2000) -> bytes:
    body = (f"Message number {n}.\n" + ".leading dot line\n" + "x" * 70 + "\n") * (size // 100)
    return (f"From: Sender <sender@example.org>\nTo: pat@example.test\nSubject: test {n}\n"
            f"Message-ID: <m{n}@example.org>\n\n").encode() + body.encode()


def _tls(server: RunningServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.cert))


def _pop3s(server: RunningServer) -> poplib.POP3_SSL:
    return poplib.POP3_SSL("127.0.0.1", server.ports["pop3s"], context=_tls(server), timeout=10)


def _show(server: RunningServer, address: str) -> dict:  # type: ignore[type-arg]
    return json.loads(server.cli("account", "show", address, "--json").stdout)


def test_new_account_refused_until_pop_is_turned_on_then_every_command_works(
        server: RunningServer) -> None:
    server.account("pat@example.test", PASSWORD)
    for n in range(3):
        server.deliver("pat@example.test", _msg(n))
    client = _pop3s(server)
    client.user("pat@example.test")
    with pytest.raises(poplib.error_proto) as refused:
        client.pass_(PASSWORD)
    text = refused.value.args[0].decode()
    assert text.startswith("-ERR [SYS/PERM] ProtocolDisabled: POP is off by default")
    assert "help desk" in text

    server.cli("protocol", "set", "pat@example.test", "pop", "on", "--reason", "case 1")
    client = _pop3s(server)
    assert client.capa()["SASL"] == ["PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2"]
    client.user("pat@example.test")
    assert client.pass_(PASSWORD).startswith(b"+OK")
    count, _ = client.stat()
    assert count == 3
    listing = client.list()[1]
    assert len(listing) == 3
    uidls = client.uidl()[1]
    _, lines, _ = client.retr(1)
    assert b".leading dot line" in lines  # dot-stuffing undone by the client
    assert b"Subject: test 0" in lines
    top = client.top(2, 1)[1]
    assert b"Subject: test 1" in top and len(top) < 12
    assert client.noop().startswith(b"+OK")
    client.dele(1)
    with pytest.raises(poplib.error_proto):
        client.retr(1)
    client.rset()
    client.dele(3)
    assert client.quit().startswith(b"+OK")

    again = _pop3s(server)
    again.user("pat@example.test")
    again.pass_(PASSWORD)
    assert again.stat()[0] == 2
    assert again.uidl()[1] == uidls[:2]  # UIDLs are stable
    again.quit()
    recoverable = json.loads(server.cli("recover", "list", "pat@example.test", "--json").stdout)
    assert [r["subject"] for r in recoverable] == ["test 2"]
    assert set(recoverable[0]) >= {"id", "folder", "subject", "deleted_at"}


def test_stls_and_plaintext_rules_on_loopback(server: RunningServer) -> None:
    server.account("quin@example.test", PASSWORD)
    server.cli("protocol", "set", "quin@example.test", "pop3", "on")
    client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    assert "STLS" in client.capa()
    client.stls(_tls(server))
    assert "STLS" not in client.capa()
    client.user("quin@example.test")
    assert client.pass_(PASSWORD).startswith(b"+OK")
    client.quit()
    # loopback may sign in without TLS (SPEC §11)
    plain = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=10)
    plain.user("quin@example.test")
    assert plain.pass_(PASSWORD).startswith(b"+OK")
    plain.quit()


def test_wrong_password_and_unknown_account_get_the_same_answer(server: RunningServer) -> None:
    server.account("ray@example.test", PASSWORD)
    answers = []
    for user, password in (("ray@example.test", "wrong-password"),
                           ("nobody@example.test", "wrong-password"),
                           ("not an address", "x")):
        client = _pop3s(server)
        client.user(user)
        with pytest.raises(poplib.error_proto) as err:
            client.pass_(password)
        answers.append(err.value.args[0])
    assert len(set(answers)) == 1 and answers[0].startswith(b"-ERR [AUTH] ")


def test_second_session_gets_in_use(server: RunningServer) -> None:
    server.account("sam@example.test", PASSWORD)
    server.cli("protocol", "set", "sam@example.test", "pop", "on")
    first = _pop3s(server)
    first.user("sam@example.test")
    first.pass_(PASSWORD)
    second = _pop3s(server)
    second.user("sam@example.test")
    with pytest.raises(poplib.error_proto) as err:
        second.pass_(PASSWORD)
    assert err.value.args[0].startswith(b"-ERR [IN-USE]")
    first.quit()


def test_compromise_ends_live_session_within_a_second_and_restore_resets_pop(
        server: RunningServer) -> None:
    server.account("tia@example.test", PASSWORD)
    server.deliver("tia@example.test", _msg(1))
    server.cli("protocol", "set", "tia@example.test", "pop", "on")
    client = _pop3s(server)
    client.user("tia@example.test")
    client.pass_(PASSWORD)
    client.dele(1)  # marked, but the session will not reach QUIT
    server.cli("account", "compromise", "tia@example.test", "--reason", "phishing")
    closed_after = time.monotonic()
    sock = client.sock
    sock.settimeout(1.0)
    assert sock.recv(100) == b""  # the server closed the connection
    assert time.monotonic() - closed_after < 1.0
    fresh = _pop3s(server)
    fresh.user("tia@example.test")
    with pytest.raises(poplib.error_proto) as err:
        fresh.pass_(PASSWORD)
    assert b"ProtocolDisabled: POP is turned off because this account was marked compromised" \
        in err.value.args[0]
    server.cli("account", "restore", "tia@example.test", "--password-stdin", "--note",
               "ID checked at the desk", stdin="a-brand-new-password\n")
    pop = _show(server, "tia@example.test")["protocols"]["pop"]
    assert pop == {**pop, "enabled": False, "reason": "plan_default"}
    # nothing was deleted by the dropped session
    server.cli("protocol", "set", "tia@example.test", "pop", "on")
    again = _pop3s(server)
    again.user("tia@example.test")
    again.pass_("a-brand-new-password")
    assert again.stat()[0] == 1
    again.quit()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is installed by .ci/run")
def test_curl_pop3_and_pop3s(server: RunningServer) -> None:
    server.account("uma@example.test", PASSWORD)
    server.deliver("uma@example.test", _msg(7))
    server.cli("protocol", "set", "uma@example.test", "pop", "on")
    for url in (f"pop3://127.0.0.1:{server.ports['pop3']}/1",
                f"pop3s://127.0.0.1:{server.ports['pop3s']}/1"):
        out = subprocess.run(["curl", "-sS", "--ssl-reqd", "--cacert", str(server.cert), url,
                              "-u", f"uma@example.test:{PASSWORD}"],
                             capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert b"Subject: test 7" in out.stdout
    refused = subprocess.run(["curl", "-sS", "--cacert", str(server.cert),
                              f"pop3s://127.0.0.1:{server.ports['pop3s']}/",
                              "-u", "uma@example.test:wrong"], capture_output=True, timeout=30)
    assert refused.returncode != 0


def _fetchmail(server: RunningServer, tmp_path: Path, keep: bool) -> subprocess.CompletedProcess:
    mbox = tmp_path / f"fetched-{keep}.mbox"
    rc = tmp_path / f"fetchmailrc-{keep}"
    rc.write_text(
        f"poll localhost via 127.0.0.1 protocol pop3 service {server.ports['pop3s']}\n"
        f"  user 'vic@example.test' password '{PASSWORD}'\n"
        f"  ssl sslcertck sslcertfile '{server.cert}' sslcommonname localhost\n"
        f"  fetchall {'keep' if keep else 'nokeep'}\n"
        f"  mda 'cat >> {mbox}'\n")
    rc.chmod(0o600)
    return subprocess.run(["fetchmail", "-f", str(rc), "--nodetach", "-v",
                           "--pidfile", str(tmp_path / "fm.pid")],
                          capture_output=True, timeout=60,
                          env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})


@pytest.mark.skipif(shutil.which("fetchmail") is None, reason="fetchmail is installed by .ci/run")
def test_fetchmail_keep_then_delete_and_recover(server: RunningServer, tmp_path: Path) -> None:
    server.account("vic@example.test", PASSWORD)
    for n in range(4):
        server.deliver("vic@example.test", _msg(n, 5000))
    denied = _fetchmail(server, tmp_path, keep=True)
    assert denied.returncode != 0
    assert b"ProtocolDisabled" in denied.stdout + denied.stderr
    server.cli("protocol", "set", "vic@example.test", "pop", "on")
    kept = _fetchmail(server, tmp_path, keep=True)
    assert kept.returncode == 0, (kept.stdout + kept.stderr).decode()
    assert (tmp_path / "fetched-True.mbox").read_bytes().count(b"Subject: test") == 4
    deleted = _fetchmail(server, tmp_path, keep=False)
    assert deleted.returncode == 0, (deleted.stdout + deleted.stderr).decode()
    recoverable = json.loads(server.cli("recover", "list", "vic@example.test", "--json").stdout)
    assert len(recoverable) == 4
    server.cli("recover", "restore", "vic@example.test", "--all")
    client = _pop3s(server)
    client.user("vic@example.test")
    client.pass_(PASSWORD)
    assert client.stat()[0] == 4
    client.quit()


def test_bad_input_over_the_wire_keeps_the_server_serving(server: RunningServer) -> None:
    server.account("wes@example.test", PASSWORD)
    server.deliver("wes@example.test", _msg(1))
    server.cli("protocol", "set", "wes@example.test", "pop", "on")
    port = server.ports["pop3"]
    half_open = []
    for _ in range(2000):  # thousands of connections that never say a word
        s = socket.create_connection(("127.0.0.1", port))
        half_open.append(s)
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    f = raw.makefile("rb")
    assert f.readline().startswith(b"+OK")
    for line in (b"FROB\r\n", b"\xff\xfe\xfd\r\n", b"RETR 1\r\n", b"X" * 5000 + b"\r\n",
                 b"USER wes@example.test\r\n", f"PASS {PASSWORD}\r\n".encode(),
                 b"RETR 0\r\n", b"RETR 99999\r\n", b"DELE abc\r\n", b"TOP 1\r\n"):
        raw.sendall(line)
        answer = f.readline()
        assert answer.startswith((b"+OK", b"-ERR")), (line, answer)
    f.close()
    raw.close()  # abrupt: no QUIT, nothing deleted
    for s in half_open:
        s.close()
    server.wait_for_live_sessions(0)
    client = _pop3s(server)
    client.user("wes@example.test")
    client.pass_(PASSWORD)
    assert client.stat()[0] == 1
    client.quit()


def test_modern_auth_and_network_rules_reach_the_client(server: RunningServer) -> None:
    server.account("xia@example.test", PASSWORD)
    server.cli("protocol", "set", "xia@example.test", "pop", "on")
    server.cli("methods", "set", "account", "xia@example.test", "pop", "app_password,oauth")
    client = _pop3s(server)
    client.user("xia@example.test")
    with pytest.raises(poplib.error_proto) as err:
        client.pass_(PASSWORD)
    assert err.value.args[0].startswith(b"-ERR [SYS/PERM] ModernAuthRequired: POP does not "
                                        b"accept password sign-in")
    server.cli("methods", "set", "account", "xia@example.test", "pop", "all")
    server.cli("network", "set", "pop", "10.0.0.0/8")
    client = _pop3s(server)
    client.user("xia@example.test")
    with pytest.raises(poplib.error_proto) as err:
        client.pass_(PASSWORD)
    assert b"ProtocolDisabled: POP is only available from the organisation's allowed " \
        b"networks" in err.value.args[0]
    server.cli("network", "set", "pop", "127.0.0.0/8", "::1/128")
    client = _pop3s(server)
    client.user("xia@example.test")
    assert client.pass_(PASSWORD).startswith(b"+OK")
    client.quit()
    refused = server.cli("methods", "set", "account", "xia@example.test", "pop", "carrier",
                         check=False)
    assert refused.returncode == 1 and "unknown sign-in method 'carrier'" in refused.stderr

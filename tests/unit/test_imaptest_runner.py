"""The imaptest runner end to end (tests/imaptest): setup, pipelining, literals both ways and
the verdicts, against a tiny scripted IMAP server on a loopback port. That server offers no
LITERAL+, so every literal the runner sends waits for the server's `+` (Dovecot never
exercises that path). bench/imaptest_dovecot.py checks the runner on the real reference."""

from __future__ import annotations

import os
import re
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from imaptest.runner import run_group

TESTS = Path(__file__).resolve().parents[1]
USER, PASSWORD = "user1@example.test", "secret"

MBOX = """\
From user@domain  Fri Feb 22 17:06:23 2008
From: a@example.test
Subject: one

body one

From user@domain  Fri Feb 22 23:00:00 2008 +0200
From: b@example.test

body two
"""

GROUPS = {
    # setup appends both messages; a literal in a reply; an APPEND with a script literal;
    # two pipelined commands whose tagged results come after the untagged reply
    "passes": """\
messages: 2

ok fetch 1 body[]
* 1 fetch (uid $uid1 body[] {{{
From: a@example.test
Subject: one

body one


}}})

ok append $mailbox {{{
From: c@example.test

three
}}}

tag1 noop
tag2 fetch 3 body[]
tag1 ok
tag2 ok
* 3 fetch (uid $uid3 body[] {{{
From: c@example.test

three
}}})
! 3 fetch (uid $uid1 body[] $)
""",
    "wrong-uid": """\
messages: 1

ok fetch 1 body[]
* 1 fetch (uid 7 body[] $body)
""",
    "forbidden": """\
messages: 1

ok noop
! bye
ok fetch 1 body[]
! 1 fetch (uid $uid body[] $)
""",
    "disconnects": """\
state: auth

ok xbreak
ok noop
""",
    "needs-capability": """\
capabilities: X-NOPE

ok noop
""",
    "hangs": """\
state: auth

ok xhang
""",
    "greeting": """\
state: auth

* ok [capability $] fake
ok noop
""",
    "greeting-wrong": """\
state: auth

* ok [capability imap5]
ok noop
""",
    "second-user": """\
connections: 2
state: auth
user 2: user2@example.test

2 ok noop
""",
}


class FakeImap(socketserver.StreamRequestHandler):
    """Answers the setup commands, FETCH n BODY[], NOOP and LOGOUT; XBREAK closes the
    connection, XHANG never answers."""

    server: FakeServer

    def send(self, text: str) -> None:
        self.wfile.write(text.encode("latin-1") + b"\r\n")

    def command(self) -> tuple[str, list[str]] | None:
        """One command line with its literals taken out (each after a `+`)."""
        text, literals = "", []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return None
            line = raw.decode("latin-1").removesuffix("\r\n")
            marker = re.search(r"\{(\d+)\}$", line)
            if marker is None:
                return text + line, literals
            self.send("+ go ahead")
            self.server.continuations += 1
            literals.append(self.rfile.read(int(marker[1])).decode("latin-1"))
            text += line[:marker.start()]

    def handle(self) -> None:
        messages = self.server.messages
        self.send("* OK [CAPABILITY IMAP4rev1] fake ready")
        while (received := self.command()) is not None:
            line, literals = received
            tag, _, rest = line.partition(" ")
            verb, _, args = rest.partition(" ")
            verb = verb.upper()
            if verb == "XBREAK":
                return
            if verb == "XHANG":
                continue
            if verb == "LOGIN":
                self.server.logins.append(args)
                self.send(f"{tag} OK [CAPABILITY IMAP4rev1 ID] logged in")
            elif verb == "CREATE":
                messages.clear()
                self.send(f"{tag} OK created")
            elif verb == "APPEND":
                messages.append(literals[-1])
                self.server.appends.append(line)
                self.send(f"{tag} OK [APPENDUID 1 {100 + len(messages)}] appended")
            elif verb == "SELECT":
                self.send(f"* {len(messages)} EXISTS")
                self.send(f"{tag} OK [READ-WRITE] selected")
            elif verb == "FETCH":
                seq = int(args.split()[0])
                body = messages[seq - 1]
                self.send(f"* {seq} FETCH (UID {100 + seq} BODY[] {{{len(body)}}}\r\n{body})")
                self.send(f"{tag} OK fetched")
            elif verb == "LOGOUT":
                self.send("* BYE see you")
                self.send(f"{tag} OK logged out")
                return
            elif verb in ("LIST", "LSUB", "DELETE", "UNSUBSCRIBE", "NOOP"):
                self.send(f"{tag} OK done")
            else:
                self.send(f"{tag} BAD unknown command")


class FakeServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeImap)
        self.messages: list[str] = []
        self.appends: list[str] = []
        self.logins: list[str] = []
        self.continuations = 0


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    thread = threading.Thread(target=fake.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.shutdown()
    fake.server_close()
    thread.join(timeout=10)


@pytest.fixture
def groups(tmp_path: Path) -> Path:
    (tmp_path / "default.mbox").write_text(MBOX)
    for name, text in GROUPS.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def run(name: str, server: FakeServer, groups: Path, timeout: float = 30.0):
    return run_group(name, "127.0.0.1", server.server_address[1], USER, PASSWORD,
                     tests_dir=groups, timeout=timeout)


def test_group_passes_with_literals_both_ways(server: FakeServer, groups: Path) -> None:
    result = run("passes", server, groups)
    assert (result.status, result.failures) == ("passed", [])
    assert result.steps == 4  # three blocks and the added LOGOUT
    # setup appended the mbox messages with their From_-line dates, each after a '+'
    assert [a.split(" ", 1)[1] for a in server.appends] == [
        'APPEND "imaptest" "22-Feb-2008 17:06:23 +0000" ',
        'APPEND "imaptest" "22-Feb-2008 23:00:00 +0200" ', "append imaptest "]
    assert server.messages[2] == "From: c@example.test\r\n\r\nthree"
    assert server.continuations == 3


def test_mismatch_explains_expected_and_closest_reply(server: FakeServer, groups: Path) -> None:
    result = run("wrong-uid", server, groups)
    assert result.status == "failed"
    assert result.reason.startswith("step 1/2 (line 3) `fetch 1 body[]`: missing 1 untagged "
                                    "reply")
    assert "`* 1 fetch (uid 7 body[] $body)`" in result.reason
    assert "closest `* 1 FETCH (UID 101 BODY[] {50}" in result.reason
    assert "no uid 7 in" in result.reason
    assert "\n" not in result.line()


def test_forbidden_reply_fails(server: FakeServer, groups: Path) -> None:
    result = run("forbidden", server, groups)
    assert result.status == "failed" and len(result.failures) == 1
    assert "unwanted untagged reply `* 1 FETCH (UID 101 BODY[]" in result.reason
    assert "matches line 6 `! 1 fetch (uid $uid body[] $)`" in result.reason


def test_lost_connection_ends_the_group_with_one_line(server: FakeServer, groups: Path) -> None:
    result = run("disconnects", server, groups)
    assert result.status == "failed"
    assert result.failures == ["step 1/3 (line 3) `xbreak`: connection 1 closed unexpectedly"]


def test_missing_capability_skips(server: FakeServer, groups: Path) -> None:
    result = run("needs-capability", server, groups)
    assert (result.status, result.reason) == ("skipped", "server lacks X-NOPE")


def test_silent_server_times_out(server: FakeServer, groups: Path) -> None:
    result = run("hangs", server, groups, timeout=1.0)
    assert result.failures == ["step 1/2 (line 3) `xhang`: no tagged reply within 1 s"]


def test_first_block_of_untagged_replies_checks_the_greeting(server: FakeServer,
                                                            groups: Path) -> None:
    assert run("greeting", server, groups).status == "passed"
    wrong = run("greeting-wrong", server, groups)
    assert wrong.failures == ["step 1/3 (line 3) greeting: missing 1 untagged reply "
                              "(1 untagged reply matched nothing), first: line 3 "
                              "`* ok [capability imap5]`; "
                              "closest `* OK [CAPABILITY IMAP4rev1] fake ready`: expected "
                              "imap5], got IMAP4rev1]"]


def test_user_header_logs_a_connection_in_as_that_user(server: FakeServer,
                                                       groups: Path) -> None:
    assert run("second-user", server, groups).status == "passed"
    assert server.logins == [f'"{USER}" "{PASSWORD}"', f'"user2@example.test" "{PASSWORD}"']


def test_cli_prints_a_line_per_group_and_the_score(server: FakeServer, groups: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    proc = subprocess.run(
        [sys.executable, "-m", "imaptest.runner", "--port", str(server.server_address[1]),
         "--user", USER, "--password", PASSWORD, "--tests-dir", str(groups),
         "--group", "passes", "--group", "wrong-uid", "--group", "needs-capability"],
        capture_output=True, text=True, env=env, timeout=120)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 1, proc.stderr
    assert lines[0].startswith("PASS passes (4 commands, ")
    assert lines[1].startswith("FAIL wrong-uid: step 1/2 (line 3)")
    assert lines[2] == "SKIP needs-capability: server lacks X-NOPE"
    assert lines[-3:] == ["base protocol: 1/6 individual commands failed",
                          "extensions: 0/0 individual commands failed",
                          "1 passed, 1 failed, 1 skipped"]
    assert proc.stderr == ""


def test_cli_refuses_unknown_group_in_one_line(groups: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    proc = subprocess.run(
        [sys.executable, "-m", "imaptest.runner", "--port", "1", "--user", USER,
         "--password", PASSWORD, "--tests-dir", str(groups), "--group", "no\x1bsuch"],
        capture_output=True, text=True, env=env, timeout=120)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "error: no such group: no\\x1bsuch\n"

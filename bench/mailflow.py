"""What the SMTP benchmarks (bench/smtp_*.py) share: their command line, Postfix's load
generator and sink, a throwaway Postfix instance, an empty DNS server, a submission client,
and counting what each side stored.

Postfix comes from Debian's `postfix` package (`apt-get install -y postfix`); only its
binaries are used: `smtp-source` and `smtp-sink` from /usr/sbin, and `postfix -c DIR` for
an instance whose configuration, queue and log live in a temporary directory, listening on
loopback only. No system Postfix is started.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib.util
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import benchlib as bl

SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"
POSTFIX = "/usr/sbin/postfix"
SENDER = "bench@sender.example"  # an outside sender (inbound benchmarks)
CLIENT_NAME = "client.bench.example"


def need_postfix() -> None:
    """Fail early, with the command that fixes it, when Postfix's binaries are missing."""
    missing = [p for p in (SMTP_SOURCE, SMTP_SINK, POSTFIX) if not os.access(p, os.X_OK)]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: apt-get install -y postfix "
                         "(Debian's package; the benchmarks start no system Postfix)")


def user(n: int) -> str:
    """The benchmark's account userN (made by `bl.bulk_accounts`)."""
    return f"user{n}@{bl.DOMAIN}"


class Options:
    """The command line every bench/smtp_* script takes: --quick, the messages per round
    (`--NAME`), --size, --rounds, the script's own options (`add`), then --keep."""

    def __init__(self, doc: str, *, messages: str, messages_help: str, quick: int, full: int,
                 size_help: str = "payload octets per message") -> None:
        self.parser = argparse.ArgumentParser(description=doc.splitlines()[0])
        self.parser.add_argument("--quick", action="store_true",
                                 help=f"smoke test: {quick} messages, 2 rounds")
        self.parser.add_argument(f"--{messages}", type=int, default=None, help=messages_help)
        self.parser.add_argument("--size", type=int, default=10240, help=size_help)
        self.parser.add_argument("--rounds", type=int, default=None)
        self.messages, self.quick, self.full = messages, quick, full

    def add(self, *names: str, **how: Any) -> None:
        self.parser.add_argument(*names, **how)

    def parse(self) -> tuple[argparse.Namespace, int, int]:
        """(the options, messages per round, rounds); stops early when Postfix is missing."""
        self.parser.add_argument("--keep", action="store_true")
        a = self.parser.parse_args()
        messages = getattr(a, self.messages.replace("-", "_")) or (
            self.quick if a.quick else self.full)
        rounds = a.rounds or (2 if a.quick else 3)
        need_postfix()
        return a, messages, rounds


def empty_dns() -> Any:
    """A DNS server on loopback UDP that answers NXDOMAIN at once (the tests' stub), so the
    inbound SPF/DKIM/DMARC checks cost their lookups without waiting on the network; point
    `MAILGATE_SERVER_NAMESERVERS` at its `address`."""
    path = bl.REPO / "tests" / "integration" / "dns_stub.py"
    spec = importlib.util.spec_from_file_location("dns_stub", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DnsStub({})


# ---------------------------------------------------------------------------- smtp-source

@dataclass
class SourceRun:
    """One smtp-source run: wall seconds from its start to its exit, and its output."""

    seconds: float
    messages: int
    output: str


def smtp_source(port: int, *, messages: int, size: int, sessions: int, to: str,
                lmtp: bool = False, sender: str = SENDER) -> SourceRun:
    """`smtp-source` sending `messages` of `size` payload octets to `to` over `sessions`
    parallel connections, each kept open for the next message (-d). Raises when a reply
    was not the expected success (smtp-source stops at the first one)."""
    args = [SMTP_SOURCE, "-4", "-d", "-s", str(sessions), "-m", str(messages), "-l",
            str(size), "-f", sender, "-t", to, "-M", CLIENT_NAME, "-S", "bench message"]
    if lmtp:
        args.append("-L")
    args.append(f"127.0.0.1:{port}")
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise RuntimeError(f"smtp-source to port {port} failed ({proc.returncode}): "
                           f"{output[-1000:]}")
    return SourceRun(seconds, messages, output)


class SmtpSink:
    """Postfix's `smtp-sink` on a loopback port: answers every command, stores nothing."""

    def __init__(self, lmtp: bool = False) -> None:
        self.port = bl.free_port()
        self.lmtp = lmtp
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SmtpSink:
        # -u: it must drop root after binding; backlog 1024 like mailgate's listeners
        args = [SMTP_SINK, "-u", "nobody", *(["-L"] if self.lmtp else []),
                f"127.0.0.1:{self.port}", "1024"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        bl.wait_port(self.port, 30, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# ---------------------------------------------------------------------------- counting

def mailgate_count(data: Path, address: str, folder: str = "INBOX") -> int:
    """Messages in an account's folder, read from the database (read-only)."""
    with contextlib.closing(sqlite3.connect(f"file:{data / 'mailgate.db'}?mode=ro",
                                            uri=True, timeout=30)) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM messages m JOIN folders f ON m.folder_id = f.id "
            "JOIN accounts a ON f.account_id = a.id "
            "WHERE a.address = ? AND f.name = ? AND m.deleted_at IS NULL",
            (address, folder)).fetchone()
    return int(count)


def dovecot_count(dovecot: bl.DovecotReference, address: str) -> int:
    """Messages in a dovecot-reference user's Maildir INBOX (new/ and cur/)."""
    box = dovecot.mail / address / "Maildir"
    return sum(len(os.listdir(box / sub)) for sub in ("new", "cur") if (box / sub).is_dir())


def wait_count(count: Any, want: int, timeout: float = 600.0) -> float:
    """Poll `count()` until it reaches `want`; the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while True:
        got = count()
        if got >= want:
            return time.perf_counter()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{got} of {want} messages arrived in {timeout:.0f}s")
        time.sleep(0.01)


# ---------------------------------------------------------------------------- Dovecot + Postfix

def dovecot_auth_socket(dovecot: bl.DovecotReference) -> Path:
    """A SASL socket for Postfix on a running dovecot-reference (appended service auth
    listener, reload); its path."""
    assert dovecot.instance is not None
    socket_path = dovecot.instance / "run" / "auth-postfix"
    with open(dovecot.conf, "a") as conf:
        conf.write("service auth {\n  unix_listener " + str(socket_path) + " {\n"
                   "    mode = 0666\n  }\n}\n")
    subprocess.run(["doveadm", "-c", str(dovecot.conf), "reload"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not socket_path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"Dovecot made no {socket_path}")
        time.sleep(0.05)
    return socket_path


MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = postfix.bench.test
mydestination =
local_recipient_maps =
virtual_mailbox_domains = example.test
virtual_mailbox_maps =
virtual_transport = lmtp:inet:127.0.0.1:{lmtp}
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {sasl}
smtpd_sasl_security_options = noanonymous
smtpd_tls_security_level = none
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
"""

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
lmtp      unix  - - n -  - lmtp
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class PostfixInstance:
    """A throwaway Postfix (`postfix -c DIR/conf`): submission on a loopback port with SASL
    through Dovecot, mail for example.test handed to Dovecot's LMTP. Queue files are
    fsynced before Postfix's 250, as in any Postfix."""

    def __init__(self, workdir: Path, sasl_socket: Path, lmtp_port: int) -> None:
        self.dir = workdir
        self.port = bl.free_port()
        self.sasl = sasl_socket
        self.lmtp = lmtp_port
        self.started = False

    @property
    def conf(self) -> Path:
        return self.dir / "conf"

    def start(self) -> PostfixInstance:
        for sub in ("conf", "queue", "data"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.dir / "data", "postfix")
        values = {"dir": self.dir, "lmtp": self.lmtp, "sasl": self.sasl, "port": self.port}
        (self.conf / "main.cf").write_text(MAIN_CF.format(**values))
        (self.conf / "master.cf").write_text(MASTER_CF.format(**values))
        for step in ("check", "start"):
            proc = subprocess.run([POSTFIX, "-c", str(self.conf), step], capture_output=True,
                                  text=True, stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                raise RuntimeError(f"postfix {step} failed: {proc.stdout}{proc.stderr}"
                                   f"{self.log_tail()}")
        self.started = True
        bl.wait_port(self.port, 30)
        return self

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.dir / "maillog").read_text(errors="replace")
                             .splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.started:
            subprocess.run([POSTFIX, "-c", str(self.conf), "stop"], capture_output=True,
                           stdin=subprocess.DEVNULL)
            self.started = False


# ---------------------------------------------------------------------------- submission

class SmtpError(Exception):
    """A reply other than the one expected."""


class SubmissionClient:
    """A lean asyncio submission client: EHLO, AUTH PLAIN, then MAIL/RCPT/DATA per message,
    one command at a time (no pipelining), as both servers are driven alike."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def signed_in(cls, port: int, user: str, password: str = bl.PASSWORD
                        ) -> SubmissionClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        try:
            await client.expect(b"220")
            await client.command(f"EHLO {CLIENT_NAME}", b"250")
            token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
            await client.command(f"AUTH PLAIN {token}", b"235")
        except BaseException:
            writer.close()
            raise
        return client

    async def expect(self, code: bytes) -> bytes:
        while True:
            line = await self.reader.readline()
            if line[3:4] != b"-":
                break
        if not line.startswith(code):
            raise SmtpError(f"expected {code.decode()}, got {line[:200]!r}")
        return line

    async def command(self, text: str, code: bytes) -> bytes:
        self.writer.write(text.encode() + b"\r\n")
        return await self.expect(code)

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        await self.command(f"MAIL FROM:<{sender}>", b"250")
        await self.command(f"RCPT TO:<{recipient}>", b"250")
        await self.command("DATA", b"354")
        self.writer.write(message.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        await self.expect(b"250")

    async def quit(self) -> None:
        with contextlib.suppress(OSError, SmtpError, asyncio.IncompleteReadError):
            await self.command("QUIT", b"221")
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


def text_message(sender: str, recipient: str, tag: str, size: int) -> bytes:
    """A plain-text message of about `size` octets (CRLF lines of 76 characters), unique by
    its tag (Message-ID, Subject and first line)."""
    head = (f"From: {sender}\r\nTo: {recipient}\r\nSubject: bench {tag}\r\n"
            f"Date: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{tag}@bench.example>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            f"{tag}\r\n").encode()
    line = b"The quick brown fox jumps over the lazy dog while the mail keeps flowing. \r\n"
    return head + line * max(0, (size - len(head)) // len(line))

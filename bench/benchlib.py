"""Shared helpers of the mailgate benchmarks (bench/*.py): servers, data, statistics, output.

Every benchmark runs mailgate and the reference (Debian's Dovecot, through
../shared/tools/dovecot-reference) on the same machine in the same run, alternating rounds,
and reports medians and ratios, never a lone absolute time.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
MAILGATE = Path(sys.executable).parent / "mailgate"
TOOLS = Path(os.environ.get("MAILGATE_BENCH_TOOLS", REPO.parent / "shared" / "tools"))
MAKE_CORPUS = TOOLS / "make-corpus"
DOVECOT_REFERENCE = TOOLS / "dovecot-reference"
PASSWORD = "benchpass"  # dovecot-reference's default password
DOMAIN = "example.test"
LISTENERS = ("imap", "imaps", "pop3", "pop3s", "submission", "submissions", "smtp", "lmtp",
             "http")


# ---------------------------------------------------------------------------- statistics

def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


# ---------------------------------------------------------------------------- output

def print_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    rows = [[_cell(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    print()
    print(title)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.rjust(w) if _numeric(c) else c.ljust(w)
                        for c, w in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def _numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "-+.") and text != "-"


def machine() -> dict[str, Any]:
    return {"host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "kernel": platform.release()}


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    payload = {"benchmark": name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": machine(), **payload}
    # A --quick smoke run never overwrites the figures of a full run.
    path = RESULTS / (f"{name}.quick.json" if payload.get("quick") else f"{name}.json")
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\nresults written to {path.relative_to(REPO)}")
    return path


# ---------------------------------------------------------------------------- processes

def raise_nofile(want: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, max(hard, target)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


def pop3_banner(port: int, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout) as s:
        return s.recv(512)


def children_of(pid: int) -> list[int]:
    """pid and all its descendants (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def pss_kb(pids: Iterable[int]) -> tuple[int, int]:
    """(sum of Pss in KiB, number of processes read) from /proc/PID/smaps_rollup."""
    total = count = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        count += 1
                        break
        except OSError:
            continue
    return total, count


# ---------------------------------------------------------------------------- mailgate

def mg(data: Path, *args: str, stdin: str | None = None, check: bool = True,
       env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the mailgate CLI on a data directory."""
    proc = subprocess.run([str(MAILGATE), "--data", str(data), *args], input=stdin,
                          capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise RuntimeError(f"mailgate {' '.join(args)} failed ({proc.returncode}): "
                           f"{proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def mg_init(data: Path) -> None:
    mg(data, "init", "--domain", DOMAIN)


def mg_account(data: Path, address: str, pop: bool = True, password: str = PASSWORD) -> None:
    mg(data, "account", "create", address, "--password-stdin", stdin=password + "\n")
    if pop:
        mg(data, "protocol", "set", address, "pop", "on", "--reason", "benchmark")


def serve_env(**listeners: int) -> dict[str, str]:
    """Environment for `mailgate serve` with only the given listeners on (name=port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGATE_AUTH_ARGON2")}
    for name in LISTENERS:
        port = listeners.get(name)
        env[f"MAILGATE_LISTEN_{name.upper()}"] = f"127.0.0.1:{port}" if port else ""
    env.setdefault("MAILGATE_SERVER_LOG_LEVEL", "warning")
    # Every benchmark client connects from 127.0.0.1: the per-address cap on connections not
    # signed in yet would count them all as one client.
    env.setdefault("MAILGATE_AUTH_MAX_UNAUTHENTICATED_PER_ADDRESS", "100000")
    return env


class MailgateServer:
    """`mailgate --data DIR serve` with a POP3 listener (and optionally HTTP, pop3s)."""

    def __init__(self, data: Path, pop3: int | None = None, http: int | None = None,
                 log: Path | None = None, pop3s: bool = False) -> None:
        self.data = data
        self.pop3 = pop3 or free_port()
        self.pop3s = free_port() if pop3s else None
        self.http = http
        self.log_path = log or data / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> MailgateServer:
        env = serve_env(pop3=self.pop3, **({"http": self.http} if self.http else {}),
                        **({"pop3s": self.pop3s} if self.pop3s else {}))
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([str(MAILGATE), "--data", str(self.data), "serve"],
                                     env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            wait_port(self.pop3, timeout, self.proc)
            if self.pop3s:
                wait_port(self.pop3s, timeout, self.proc)
            banner = pop3_banner(self.pop3)
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"mailgate serve did not answer POP3 ({exc}); log tail:\n"
                               f"{self.log_tail()}") from exc
        if not banner.startswith(b"+OK"):
            self.stop()
            raise RuntimeError(f"mailgate POP3 banner is {banner!r}, expected +OK")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()


def bulk_accounts(data: Path, addresses: Sequence[str], password: str = PASSWORD,
                  pop: bool = True, password_hash: str | None = None) -> dict[str, int]:
    """Create accounts straight in the database (SQLAlchemy Core) after `mailgate init`.

    Every account gets the default folders and, with pop=True, an account setting that opens
    POP (what `mailgate protocol set ADDR pop on` writes). One argon2id hash at the production
    cost is shared by all (its verification costs the same as a per-account hash).
    """
    from mailgate.db.schema import account_settings, accounts, plans
    from mailgate.service import Service
    from mailgate.store.folders import create_default_folders

    svc = Service.open(data)
    if password_hash is None:
        password_hash = svc.passwords.hash(password)
    now = time.time()
    ids: dict[str, int] = {}
    with svc.engine.begin() as conn:
        plan = conn.execute(plans.select().where(plans.c.name == "standard")).one().id
        for start in range(0, len(addresses), 1000):
            chunk = addresses[start:start + 1000]
            conn.execute(accounts.insert(), [
                {"address": a, "name": a.split("@")[0], "password_hash": password_hash,
                 "department_id": None, "plan_id": plan, "state": "active",
                 "deactivate_at": None, "created_at": now, "credential_epoch": 0}
                for a in chunk])
        rows = conn.execute(accounts.select().where(accounts.c.address.in_(list(addresses))))
        ids = {r.address: r.id for r in rows}
        for address in addresses:
            create_default_folders(conn, ids[address], now)
        if pop:
            conn.execute(account_settings.insert(), [
                {"account_id": ids[a], "protocol": "pop", "enabled": True, "source": "account",
                 "case_id": None, "set_by": "system", "set_at": now} for a in addresses])
    svc.engine.dispose()
    return ids


# ---------------------------------------------------------------------------- reference

class DovecotReference:
    """A throwaway Debian Dovecot from ../shared/tools/dovecot-reference."""

    def __init__(self, workdir: Path, users: int = 10, maildir: Path | None = None,
                 pop3: int | None = None, scheme: str = "ARGON2ID") -> None:
        self.dir = workdir
        self.users = users
        self.scheme = scheme
        self.maildir = maildir
        self.pop3 = pop3 or free_port()
        self.pop3s: int | None = None  # see enable_tls()
        self.imap = free_port()
        self.lmtp = free_port()
        self.instance: Path | None = None
        self.master_pid: int | None = None

    def start(self) -> DovecotReference:
        args = [str(DOVECOT_REFERENCE), "start", str(self.dir), "--imap", str(self.imap),
                "--pop3", str(self.pop3), "--lmtp", str(self.lmtp), "--users", str(self.users),
                "--password", PASSWORD, "--scheme", self.scheme]
        if self.maildir is not None:
            args += ["--maildir", str(self.maildir)]
        # Output to a file, not a pipe: the Dovecot daemon inherits it and never closes it.
        self.dir.mkdir(parents=True, exist_ok=True)
        log = self.dir / "start.log"
        with open(log, "wb") as out:
            code = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL).returncode
        if code != 0:
            raise RuntimeError(f"dovecot-reference start failed: {log.read_text()[-2000:]}")
        self.instance = Path((self.dir / "instance").read_text().strip())
        self.master_pid = int((self.instance / "run" / "master.pid").read_text())
        wait_port(self.pop3, 30)
        return self

    @property
    def conf(self) -> Path:
        assert self.instance is not None
        return self.instance / "dovecot.conf"

    def enable_tls(self) -> None:
        """STLS and a pop3s listener on the running instance (dovecot-reference starts it with
        `ssl = no`): a throwaway self-signed certificate, appended settings, a reload."""
        from mailgate.tls import make_self_signed

        assert self.instance is not None
        cert, key = self.instance / "tls-cert.pem", self.instance / "tls-key.pem"
        make_self_signed(cert, key, "localhost")
        self.pop3s = free_port()
        with open(self.conf, "a") as conf:
            conf.write(f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}\n"
                       "service pop3-login {\n  inet_listener pop3s {\n"
                       f"    address = 127.0.0.1\n    port = {self.pop3s}\n    ssl = yes\n"
                       "  }\n}\n")
        subprocess.run(["doveadm", "-c", str(self.conf), "reload"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_port(self.pop3s, 30)

    def stop(self) -> None:
        if self.instance is not None:
            subprocess.run([str(DOVECOT_REFERENCE), "stop", str(self.dir)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.instance = None

    def user(self, i: int) -> str:
        return f"user{i}@{DOMAIN}"


# ---------------------------------------------------------------------------- data

def make_corpus(out: Path, count: int, inbox_only: bool = False) -> Path:
    """A deterministic Maildir from make-corpus (same seed, so byte-identical each time)."""
    args = [sys.executable, str(MAKE_CORPUS), "--count", str(count), "--maildir", str(out)]
    if inbox_only:
        args.append("--inbox-only")
    subprocess.run(args, check=True, capture_output=True)
    return out


def tree_bytes(root: Path) -> tuple[int, int]:
    """(files, bytes) of the regular files under root."""
    files = size = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(dirpath, name))
    return files, size


@contextlib.contextmanager
def workspace(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A world-readable temporary directory (Dovecot's unprivileged processes must read it)."""
    path = Path(tempfile.mkdtemp(prefix=f"mailgate-bench-{prefix}-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def need_mailgate_mime() -> None:
    """Fail early, with a clear line, when `mailgate import` cannot work in this checkout."""
    probe = subprocess.run([sys.executable, "-c",
                            "from mailgate import mime; mime.split_mbox; mime.parse; mime.to_crlf"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        sys.exit("mailgate's MIME module is not usable yet (mailgate.mime): "
                 + (probe.stderr.strip().splitlines() or ["?"])[-1])


# ---------------------------------------------------------------------------- POP3 client

class Pop3Error(Exception):
    """A POP3 answer that was not +OK."""


@functools.cache
def client_tls() -> ssl.SSLContext:
    """TLS for benchmark clients: every server here has a throwaway self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


#: How a POP3 client connects: "plain", "pop3s" (TLS from the first byte), "stls" (upgraded).
TRANSPORTS = ("plain", "pop3s", "stls")


async def pop3_open(port: int, user: str, password: str = PASSWORD, timeout: float = 120.0,
                    transport: str = "plain"):
    """Connect (see TRANSPORTS; `port` is the pop3s port for "pop3s") and sign in with
    USER/PASS; returns (reader, writer). Raises Pop3Error."""
    import asyncio

    tls = client_tls() if transport != "plain" else None
    reader, writer = await asyncio.wait_for(asyncio.open_connection(
        "127.0.0.1", port, ssl=tls if transport == "pop3s" else None), timeout)
    try:
        async def line() -> bytes:
            got = await asyncio.wait_for(reader.readline(), timeout)
            if not got.startswith(b"+OK"):
                raise Pop3Error(got.decode(errors="replace").strip() or "connection closed")
            return got

        await line()
        if transport == "stls":
            writer.write(b"STLS\r\n")
            await line()
            await asyncio.wait_for(writer.start_tls(tls), timeout)
        writer.write(f"USER {user}\r\n".encode())
        await line()
        writer.write(f"PASS {password}\r\n".encode())
        await line()
    except BaseException:
        writer.close()
        raise
    return reader, writer


async def pop3_quit(reader, writer, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    try:
        writer.write(b"QUIT\r\n")
        got = await asyncio.wait_for(reader.readline(), timeout)
        if not got.startswith(b"+OK"):
            raise Pop3Error(got.decode(errors="replace").strip() or "connection closed")
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()

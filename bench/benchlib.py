"""Shared helpers of the mailgate benchmarks (bench/*.py): servers, data, statistics, output.

Every benchmark runs mailgate and the reference (Debian's Dovecot, through
../shared/tools/dovecot-reference) on the same machine in the same run, alternating rounds,
and reports medians and ratios, never a lone absolute time.
"""

from __future__ import annotations

import asyncio
import base64
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
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
MAILGATE = Path(sys.executable).parent / "mailgate"
TOOLS = Path(os.environ.get("MAILGATE_BENCH_TOOLS", REPO.parent / "shared" / "tools"))
MAKE_CORPUS = TOOLS / "make-corpus"
DOVECOT_REFERENCE = TOOLS / "dovecot-reference"
PASSWORD = "benchpass"  # dovecot-reference's default password
DOMAIN = "example.test"
T = TypeVar("T")
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


def banner(port: int, timeout: float = 5.0) -> bytes:
    """The first bytes a plaintext listener sends (POP3 `+OK`, IMAP `* OK`)."""
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


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


class CpuTimes(NamedTuple):
    """CPU seconds: user time, and user + system."""

    user: float
    total: float


def cpu_times(root: int) -> CpuTimes:
    """CPU time spent so far by `root` and every process under it, the exited ones included
    (a reaped child's time is in its parent's cutime/cstime)."""
    user = system = 0
    for pid in children_of(root):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rpartition(")")[2].split()
        except OSError:
            continue
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        user += utime + cutime
        system += stime + cstime
    tick = os.sysconf("SC_CLK_TCK")
    return CpuTimes(user / tick, (user + system) / tick)


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


def mg_mailbox(data: Path, address: str, maildir: Path, pop: bool = False) -> None:
    """A fresh data directory with one account holding a Maildir (`mailgate import`)."""
    mg_init(data)
    mg_account(data, address, pop=pop)
    mg(data, "import", address, str(maildir), "--quiet")


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


BANNERS = {"pop3": b"+OK", "imap": b"* OK"}  # what a ready plaintext listener greets with


class MailgateServer:
    """`mailgate --data DIR serve` with only the given listeners (POP3 by default) and
    optionally HTTP; `ports` maps each listener to its loopback port."""

    def __init__(self, data: Path, pop3: int | None = None, http: int | None = None,
                 log: Path | None = None, listeners: Sequence[str] = ("pop3",)) -> None:
        self.data = data
        self.ports = {name: free_port() for name in listeners}
        if pop3 is not None:
            self.ports["pop3"] = pop3
        self.http = http
        self.log_path = log or data / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._profiler: subprocess.Popen[bytes] | None = None

    @property
    def pop3(self) -> int:
        return self.ports["pop3"]

    @property
    def imap(self) -> int:
        return self.ports["imap"]

    @property
    def imaps(self) -> int:
        return self.ports["imaps"]

    def start(self, timeout: float = 60.0) -> MailgateServer:
        env = serve_env(**self.ports, **({"http": self.http} if self.http else {}))
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([str(MAILGATE), "--data", str(self.data), "serve"],
                                     env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._profile()
        greeted: dict[str, bytes] = {}
        try:
            for name, port in self.ports.items():
                wait_port(port, timeout, self.proc)
                if name in BANNERS:
                    greeted[name] = banner(port)
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"mailgate serve did not answer on {', '.join(self.ports)} "
                               f"({exc}); log tail:\n{self.log_tail()}") from exc
        for name, got in greeted.items():
            if not got.startswith(BANNERS[name]):
                self.stop()
                raise RuntimeError(f"mailgate {name} banner is {got!r}, expected "
                                   f"{BANNERS[name]!r}")
        return self

    def _profile(self) -> None:
        """With MAILGATE_BENCH_PROFILE=DIR, py-spy (`pip install py-spy`) samples the server
        until it stops, into DIR/serve-PID.txt (collapsed stacks; bench/pyspy_top.py sums
        them up). With MAILGATE_BENCH_PROFILE_GIL=1 too, only the thread holding the GIL is
        sampled: where the Python time of the whole process goes."""
        folder = os.environ.get("MAILGATE_BENCH_PROFILE")
        if not folder or self.proc is None:
            return
        Path(folder).mkdir(parents=True, exist_ok=True)
        out = Path(folder) / f"serve-{self.proc.pid}.txt"
        self._profiler = subprocess.Popen(
            [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(self.proc.pid),
             "--format", "raw", "--nonblocking", "--output", str(out),
             *(["--gil"] if os.environ.get("MAILGATE_BENCH_PROFILE_GIL") else [])],
            stdout=self._log, stderr=subprocess.STDOUT)

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
        if self._profiler is not None:
            try:
                self._profiler.wait(60)  # it writes its output once the server has gone
            except subprocess.TimeoutExpired:
                self._profiler.kill()
            self._profiler = None
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
    """A throwaway Debian Dovecot from ../shared/tools/dovecot-reference.

    With tls=True it also serves `imaps` (implicit TLS, terminated by imap-login as in a
    real deployment) on `self.imaps`, with a self-signed P-256 certificate made like
    mailgate's: dovecot-reference has no TLS option, so its generated config gets
    `ssl = yes`, the certificate and the listener's port, and the instance is restarted.
    """

    def __init__(self, workdir: Path, users: int = 10, maildir: Path | None = None,
                 pop3: int | None = None, scheme: str = "ARGON2ID", tls: bool = False) -> None:
        self.dir = workdir
        self.users = users
        self.scheme = scheme
        self.maildir = maildir
        self.pop3 = pop3 or free_port()
        self.pop3s: int | None = None  # see enable_tls()
        self.imap = free_port()
        self.imaps = free_port() if tls else None
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
        if self.imaps is not None:
            self._enable_tls()
            self.restart()
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

    @property
    def mail(self) -> Path:
        """The users' mail (<instance>/mail/<user>/Maildir), with Dovecot's indexes."""
        assert self.instance is not None
        return self.instance / "mail"

    def _enable_tls(self) -> None:
        from mailgate.tls import make_self_signed

        assert self.instance is not None
        cert, key = self.instance / "tls" / "cert.pem", self.instance / "tls" / "key.pem"
        make_self_signed(cert, key, "localhost")
        text = self.conf.read_text()
        off = "inet_listener imaps {\n    port = 0\n  }"
        if "ssl = no\n" not in text or text.count(off) != 1:
            raise RuntimeError(f"{self.conf}: not the dovecot-reference config this expects")
        text = text.replace("ssl = no\n", f"ssl = yes\nssl_cert = <{cert}\n"
                            f"ssl_key = <{key}\n")
        text = text.replace(off, "inet_listener imaps {\n    address = 127.0.0.1\n"
                            f"    port = {self.imaps}\n  }}")
        self.conf.write_text(text)

    def reconfigure(self, settings: str) -> None:
        """Append settings to the generated config and restart the instance with them."""
        with open(self.conf, "a") as conf:
            conf.write(settings)
        self.restart()

    def restart(self, timeout: float = 60.0) -> None:
        """Stop the master and every process under it, then start it again on the same
        instance (same config, mail and indexes): the next sessions start cold."""
        assert self.instance is not None and self.master_pid is not None
        pids = children_of(self.master_pid)
        os.kill(self.master_pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(_alive(p) for p in pids):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Dovecot (master {self.master_pid}) did not stop")
            time.sleep(0.05)
        log = self.dir / "start.log"
        with open(log, "ab") as out:
            code = subprocess.run(["dovecot", "-c", str(self.conf)], stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
        if code != 0:
            raise RuntimeError(f"dovecot restart failed: {log.read_text()[-2000:]}")
        pid_file = self.instance / "run" / "master.pid"
        while not pid_file.is_file() or not pid_file.read_text().strip():
            if time.monotonic() > deadline:
                raise TimeoutError(f"Dovecot did not write {pid_file}")
            time.sleep(0.05)
        self.master_pid = int(pid_file.read_text())
        for port in (self.imap, self.pop3, self.imaps):
            if port is not None:
                wait_port(port, timeout)

    def stop(self) -> None:
        if self.instance is not None:
            subprocess.run([str(DOVECOT_REFERENCE), "stop", str(self.dir)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.instance = None

    def user(self, i: int) -> str:
        return f"user{i}@{DOMAIN}"


# ---------------------------------------------------------------------------- data

def make_corpus(out: Path, count: int, inbox_only: bool = False, eml_dir: bool = False
                ) -> Path:
    """A deterministic Maildir from make-corpus (same seed, so byte-identical each time);
    with eml_dir, the same messages as one NNNNN.eml file each."""
    args = [sys.executable, str(MAKE_CORPUS), "--count", str(count),
            "--eml-dir" if eml_dir else "--maildir", str(out)]
    if inbox_only:
        args.append("--inbox-only")
    subprocess.run(args, check=True, capture_output=True)
    return out


def inbox_servers(work: Path, count: int, user: str, dovecots: Sequence[str] = ("dovecot",)
                  ) -> tuple[int, int, MailgateServer, list[DovecotReference]]:
    """One user with the same `count`-message INBOX (make-corpus --inbox-only) on an IMAP-only
    mailgate (imported) and on one dovecot-reference (--maildir) per name in `dovecots`
    (each its own instance and copy of the mail); none started yet.
    Returns (messages, corpus octets, mailgate, dovecots)."""
    src, files, size = imported_inbox(work, count, user)
    return (files, size, MailgateServer(work / "mailgate", listeners=("imap",)),
            [DovecotReference(work / name, users=1, maildir=src) for name in dovecots])


def imported_inbox(work: Path, count: int, user: str) -> tuple[Path, int, int]:
    """A `count`-message INBOX (make-corpus --inbox-only in work/corpus) imported for `user`
    into mailgate's data directory work/mailgate; (corpus, messages, octets)."""
    src = make_corpus(work / "corpus", count, inbox_only=True)
    files, size = tree_bytes(src)
    print(f"mailbox: {files} messages, {size / 1e6:.1f} MB")
    started = time.monotonic()
    mg_mailbox(work / "mailgate", user, src)
    print(f"imported in {time.monotonic() - started:.1f}s")
    return src, files, size


def tree_bytes(root: Path) -> tuple[int, int]:
    """(files, bytes) of the regular files under root."""
    files = size = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(dirpath, name))
    return files, size


def drop_page_cache(root: Path) -> tuple[int, int]:
    """Write back and evict from the page cache every regular file under root (fdatasync,
    then POSIX_FADV_DONTNEED): the next reads come from the disk, as after a reboot, without
    dropping the whole machine's caches. Pages a running process has mapped stay. Returns
    (files, bytes)."""
    files = size = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue  # vanished, or a socket/link
            try:
                os.fdatasync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                files += 1
                size += os.fstat(fd).st_size
            except OSError:
                pass
            finally:
                os.close(fd)
    return files, size


@contextlib.contextmanager
def inotify_instances(at_least: int) -> Iterator[int]:
    """Raise fs.inotify.max_user_instances for the run (Dovecot's IDLE takes one per imap
    process; past the limit it falls back to polling) and put the old value back after."""
    knob = Path("/proc/sys/fs/inotify/max_user_instances")
    old = int(knob.read_text())
    if old < at_least:
        knob.write_text(f"{at_least}\n")
    try:
        yield max(old, at_least)
    finally:
        if old < at_least:
            knob.write_text(f"{old}\n")


def change_committed_at(data: Path, kind: str) -> float:
    """The timestamp of the newest `kind` event row (written in the change's transaction)."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{data / 'mailgate.db'}?mode=ro",
                                            uri=True)) as conn:
        (at,) = conn.execute("SELECT at FROM events WHERE kind = ? ORDER BY id DESC LIMIT 1",
                             (kind,)).fetchone()
    return float(at)


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


# ------------------------------------------------------------------- OAUTHBEARER (RFC 7628)

def bearer(user: str, token: str) -> str:
    """The base64 initial response of SASL OAUTHBEARER for `user` with `token`."""
    return base64.b64encode(f"n,a={user},\x01auth=Bearer {token}\x01\x01".encode()).decode()


async def smtp_oauthbearer(port: int, user: str, token: str, timeout: float
                           ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """An SMTP session signed in with OAUTHBEARER (greeting, EHLO, AUTH); OSError on any
    other answer. The caller closes the writer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(timeout):
            await smtp_reply(reader, b"220")
            writer.write(b"EHLO bench.example.test\r\n")
            await smtp_reply(reader, b"250")
            writer.write(f"AUTH OAUTHBEARER {bearer(user, token)}\r\n".encode())
            await smtp_reply(reader, b"235")
    except BaseException:
        writer.close()
        raise
    return reader, writer


async def smtp_reply(reader: asyncio.StreamReader, code: bytes) -> None:
    """Read one SMTP reply (all its lines); OSError unless it has this code."""
    while True:
        line = await reader.readline()
        if not line.startswith(code):
            raise OSError(f"SMTP: {line.decode(errors='replace').strip() or 'closed'}")
        if line[3:4] != b"-":
            return


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
    try:
        writer.write(b"QUIT\r\n")
        got = await asyncio.wait_for(reader.readline(), timeout)
        if not got.startswith(b"+OK"):
            raise Pop3Error(got.decode(errors="replace").strip() or "connection closed")
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


# ---------------------------------------------------------------------------- IMAP client

class ImapError(Exception):
    """An IMAP answer that was not OK, or a connection that ended before it."""


@dataclass
class ImapReply:
    """A tagged command's outcome: its status, the rest of the tagged line, the untagged
    responses before it (literals inlined) and the octets received for it."""

    status: str
    text: str
    untagged: list[bytes]
    octets: int


def client_tls_context() -> ssl.SSLContext:
    """Both servers use self-signed certificates: encrypt, do not verify."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def imap_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapClient:
    """A lean asyncio IMAP client: one command at a time, LITERAL+ for APPEND."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 timeout: float) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        self._tags = 0
        self._idle_tag = b""

    @classmethod
    async def connect(cls, port: int, *, tls: bool = False, timeout: float = 120.0
                      ) -> ImapClient:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client_tls_context() if tls else None, limit=1 << 20)
            client = cls(reader, writer, timeout)
            try:
                greeting, _ = await client.response()
            except BaseException:
                writer.close()
                raise
        if not greeting.startswith(b"* OK"):
            writer.close()
            raise ImapError(f"greeting: {greeting[:200]!r}")
        return client

    async def response(self) -> tuple[bytes, int]:
        """One whole response (its literals inlined) and its size in octets."""
        parts, size = [], 0
        while True:
            line = await self.reader.readline()
            if not line.endswith(b"\n"):
                raise ImapError("connection closed")
            parts.append(line)
            size += len(line)
            if not line.endswith(b"}\r\n"):
                return b"".join(parts), size
            count = int(line[line.rindex(b"{") + 1:-3])
            literal = await self.reader.readexactly(count)
            parts.append(literal)
            size += count

    async def command(self, text: str, literal: bytes | None = None, *,
                      check: bool = True) -> ImapReply:
        """Send `TAG text` (and a LITERAL+ literal: text must end with `{N+}`), read up to
        the tagged answer. With check, an answer other than OK raises ImapError."""
        self._tags += 1
        tag = f"b{self._tags}".encode()
        data = tag + b" " + text.encode() + b"\r\n"
        if literal is not None:
            data += literal + b"\r\n"
        untagged, octets = [], 0
        async with asyncio.timeout(self.timeout):
            self.writer.write(data)
            while True:
                reply, size = await self.response()
                octets += size
                if reply.startswith(tag + b" "):
                    break
                untagged.append(reply)
        status, _, rest = reply[len(tag) + 1:].decode(errors="replace").partition(" ")
        result = ImapReply(status, rest.strip(), untagged, octets)
        if check and status != "OK":
            raise ImapError(f"{text.split(' ', 1)[0]}: {status} {result.text}")
        return result

    async def login(self, user: str, password: str = PASSWORD) -> None:
        await self.command(f"LOGIN {imap_quote(user)} {imap_quote(password)}")

    async def append(self, mailbox: str, message: bytes) -> ImapReply:
        return await self.command(f"APPEND {imap_quote(mailbox)} {{{len(message)}+}}",
                                  message)

    async def idle(self) -> None:
        """Start IDLE: returns once the server's continuation request arrived."""
        self._tags += 1
        self._idle_tag = f"b{self._tags}".encode()
        async with asyncio.timeout(self.timeout):
            self.writer.write(self._idle_tag + b" IDLE\r\n")
            while True:
                reply, _ = await self.response()
                if reply.startswith(b"+"):
                    return
                if not reply.startswith(b"*"):
                    raise ImapError(f"IDLE: {reply[:200]!r}")

    async def done(self) -> None:
        """End IDLE (DONE) and read its tagged OK."""
        async with asyncio.timeout(self.timeout):
            self.writer.write(b"DONE\r\n")
            while True:
                reply, _ = await self.response()
                if reply.startswith(self._idle_tag + b" "):
                    break
        if not reply.startswith(self._idle_tag + b" OK"):
            raise ImapError(f"IDLE: {reply[:200]!r}")

    async def logout(self) -> None:
        try:
            await self.command("LOGOUT")
        finally:
            await self.close()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


async def imap_idle_session(port: int, user: str, *, tls: bool = False,
                            timeout: float = 600.0) -> ImapClient:
    """Connect, sign in, SELECT INBOX and start IDLE: what a mail client keeps open."""
    client = await ImapClient.connect(port, tls=tls, timeout=timeout)
    try:
        await client.login(user)
        await client.command("SELECT INBOX")
        await client.idle()
    except BaseException:
        await client.close()
        raise
    return client


async def open_many(count: int, open_one: Callable[[int], Awaitable[T]], concurrency: int,
                    label: str = "sessions") -> tuple[list[T], dict[str, int]]:
    """Open `count` sessions (`open_one(i)`), `concurrency` at a time, printing progress;
    returns the open ones and the failures counted by message."""
    sessions: list[T] = []
    errors: dict[str, int] = {}
    gate = asyncio.Semaphore(concurrency)
    done = 0
    t0 = time.perf_counter()

    async def one(i: int) -> None:
        nonlocal done
        async with gate:
            try:
                sessions.append(await open_one(i))
            except (TimeoutError, OSError, ssl.SSLError, ImapError, Pop3Error) as exc:
                key = f"{type(exc).__name__}: {exc}"[:120]
                errors[key] = errors.get(key, 0) + 1
            done += 1
            if done % 250 == 0:
                print(f"    {done}/{count} {label} ({time.perf_counter() - t0:.0f}s)", flush=True)

    await asyncio.gather(*(one(i) for i in range(count)))
    return sessions, errors


# ---------------------------------------------------------------------------- sign-in rate

SignIn = Callable[[str], Awaitable[None]]  # one sign-in and sign-out of a user; raises if refused
SIGN_IN_ERRORS = (TimeoutError, OSError, ssl.SSLError, Pop3Error, ImapError)


class Tally:
    """Sign-ins that succeeded, and the failures counted by message."""

    def __init__(self) -> None:
        self.ok = 0
        self.errors: dict[str, int] = {}

    def fail(self, exc: BaseException) -> None:
        key = f"{type(exc).__name__}: {exc}"[:120]
        self.errors[key] = self.errors.get(key, 0) + 1


async def _attempt(sign_in: SignIn, user: str, tally: Tally) -> None:
    try:
        await sign_in(user)
        tally.ok += 1
    except SIGN_IN_ERRORS as exc:
        tally.fail(exc)


async def warm_round(sign_in: SignIn, names: Sequence[str], seconds: float
                     ) -> tuple[float, Tally]:
    """Every user signs in again and again, one client each, for `seconds`: sign-ins/s."""
    tally = Tally()
    deadline = time.perf_counter() + seconds

    async def client(user: str) -> None:
        while time.perf_counter() < deadline:
            await _attempt(sign_in, user, tally)

    t0 = time.perf_counter()
    await asyncio.gather(*(client(u) for u in names))
    return tally.ok / (time.perf_counter() - t0), tally


async def cold_round(sign_in: SignIn, names: Sequence[str], clients: int
                     ) -> tuple[float, Tally]:
    """Each user signs in once, `clients` at a time: sign-ins/s."""
    tally = Tally()
    queue: asyncio.Queue[str] = asyncio.Queue()
    for name in names:
        queue.put_nowait(name)

    async def client() -> None:
        while not queue.empty():
            await _attempt(sign_in, queue.get_nowait(), tally)

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return tally.ok / (time.perf_counter() - t0), tally


# ---------------------------------------------------------------------------- session memory

async def session_memory(name: str, pids: Callable[[], list[int]],
                         warm_up: Callable[[], Awaitable[None]], count: int,
                         open_one: Callable[[int], Awaitable[T]],
                         alive: Callable[[list[T]], Awaitable[int]],
                         close: Callable[[list[T]], Awaitable[None]],
                         concurrency: int, settle: float) -> dict[str, Any]:
    """PSS of the server's processes (`pids()`) after one warm-up session and after `count`
    more sessions (`open_one(i)`) are open; KiB per session = the growth / sessions open.
    `alive` counts the sessions still answering after the reading; `close` ends them."""
    await warm_up()
    await asyncio.sleep(settle)
    before, procs_before = pss_kb(pids())
    print(f"  {name}: {before / 1024:.1f} MiB PSS in {procs_before} process(es) before; "
          f"opening {count} sessions ...", flush=True)
    t0 = time.perf_counter()
    sessions, errors = await open_many(count, open_one, concurrency, "open")
    opened_in = time.perf_counter() - t0
    await asyncio.sleep(settle)
    after, procs_after = pss_kb(pids())
    answering = await alive(sessions)
    await close(sessions)
    per = (after - before) / len(sessions) if sessions else float("nan")
    print(f"  {name}: {len(sessions)} sessions ({answering} still answering) in "
          f"{opened_in:.0f}s; {after / 1024:.1f} MiB PSS in {procs_after} process(es); "
          f"{per:.1f} KiB per session", flush=True)
    if errors:
        print(f"  {name}: failed sessions: {errors}")
    return {"sessions": len(sessions), "alive": answering, "errors": errors,
            "pss_before_kib": before, "pss_after_kib": after,
            "processes_before": procs_before, "processes_after": procs_after,
            "per_session_kib": per, "open_seconds": opened_in}


async def sign_in_rounds(servers: dict[str, SignIn], warm_users: Sequence[str],
                         cold_users: Sequence[str], *, rounds: int, clients: int,
                         seconds: float, cold_per_round: int) -> dict[str, dict]:
    """Prime the warm users on every server, then `rounds` rounds (alternating which server
    goes first) of a warm round and a cold round (a fresh slice of cold_users) on each.
    Returns {"warm": {server: [rate...]}, "cold": {...}, "errors": {server: {msg: n}}}."""
    for name, sign_in in servers.items():  # first sign-ins verify argon2id, fill the caches
        _, tally = await cold_round(sign_in, warm_users, clients)
        if tally.errors:
            raise RuntimeError(f"{name}: priming sign-ins failed: {tally.errors}")
    result: dict[str, dict] = {"warm": {s: [] for s in servers}, "cold": {s: [] for s in servers},
                               "errors": {s: {} for s in servers}}
    for r in range(rounds):
        order = list(servers) if r % 2 == 0 else list(servers)[::-1]
        cold_slice = cold_users[r * cold_per_round:(r + 1) * cold_per_round]
        for kind in ("warm", "cold"):
            for name in order:
                if kind == "warm":
                    rate, tally = await warm_round(servers[name], warm_users, seconds)
                else:
                    rate, tally = await cold_round(servers[name], cold_slice, clients)
                result[kind][name].append(rate)
                for err, n in tally.errors.items():
                    errs = result["errors"][name]
                    errs[err] = errs.get(err, 0) + n
                bad = f", {sum(tally.errors.values())} failed" if tally.errors else ""
                print(f"round {r + 1}/{rounds}: {kind:<4} {name:<8} {rate:8.1f} sign-ins/s "
                      f"({tally.ok} ok{bad})", flush=True)
    return result

"""A real `mailgate serve` in a subprocess on free loopback ports, for client tests."""

from __future__ import annotations

import itertools
import json
import os
import poplib
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from dns_stub import DnsStub

LISTENERS = ("imap", "imaps", "pop3", "pop3s", "submission", "submissions", "smtp", "lmtp",
             "http", "https")


def wait_until(condition: Callable[[], object], timeout: float,
               failure: Callable[[], str] = lambda: "condition not reached in time") -> float:
    """Poll `condition` until it holds; returns the seconds it took (AssertionError after
    `timeout`: a generous deadline, so a slow machine only makes the test slower)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(failure())
        time.sleep(0.02)
    return time.monotonic() - started


def _port_slice() -> range:
    """This test process's listening ports: below the kernel's ephemeral range (whence every
    client connection takes its source port, so a port a killed server let go cannot be
    taken by a connection before the server starts again), one slice per xdist worker."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
        ephemeral_from = int(ports.read().split()[0])
    first, last = 10000, min(ephemeral_from, 60000)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    size = (last - first) // workers
    return range(first + worker * size, first + (worker + 1) * size)


def _ports_in_turn() -> Iterator[int]:
    """The slice's ports over and over, from a random one (two test runs side by side
    rarely reach for the same port at once)."""
    ports = _port_slice()
    start = random.randrange(len(ports))
    return itertools.cycle([*ports[start:], *ports[:start]])


_PORTS = _ports_in_turn()


def free_port() -> int:
    """The next port of this process's slice that nothing listens on (taken in turn, so a
    port comes back only after the whole slice)."""
    for _ in range(len(_port_slice())):
        port = next(_PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free listening port left in this test process's slice")


@dataclass
class RunningServer:
    data: Path
    ports: dict[str, int]
    proc: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def cert(self) -> Path:
        return self.data / "tls" / "cert.pem"

    def cli(self, *args: str, stdin: str | bytes | None = None, acting_as: str | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "mailgate", "--data", str(self.data)]
        if acting_as:
            argv += ["--as", acting_as]
        data = stdin.encode() if isinstance(stdin, str) else stdin
        proc = subprocess.run(argv + list(args), input=data, capture_output=True, timeout=60,
                              env=self.env)
        result = subprocess.CompletedProcess(proc.args, proc.returncode,
                                             proc.stdout.decode(errors="replace"),
                                             proc.stderr.decode(errors="replace"))
        if check and result.returncode != 0:
            raise AssertionError(f"mailgate {' '.join(args)} failed: {result.stderr}")
        return result

    def account(self, address: str, password: str, *extra: str) -> None:
        self.cli("account", "create", address, "--password-stdin", *extra, stdin=password + "\n")

    def deliver(self, address: str, raw: bytes) -> None:
        self.cli("deliver", address, stdin=raw)

    def health(self) -> dict[str, object]:
        url = f"http://127.0.0.1:{self.ports['http']}/healthz"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return dict(json.loads(answer.read()))

    def metrics(self) -> dict[str, float]:
        """The samples of the node's own /metrics page, by name (labels included)."""
        url = f"http://127.0.0.1:{self.ports['http']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as answer:
            lines = answer.read().decode().splitlines()
        return {name: float(value) for name, _, value in
                (line.rpartition(" ") for line in lines if line and not line.startswith("#"))}

    def sessions(self) -> list[dict[str, object]]:
        """`mailgate sessions --json`: what the operator sees, from every node."""
        return list(json.loads(self.cli("sessions", "--json").stdout))

    def pop_session(self, address: str, password: str) -> poplib.POP3:
        """A POP3 client signed in (loopback: plaintext USER/PASS is allowed)."""
        client = poplib.POP3("127.0.0.1", self.ports["pop3"], timeout=10)
        client.user(address)
        client.pass_(password)
        return client

    def wait_for_live_sessions(self, count: int, timeout: float = 5.0) -> None:
        """Until the server has noticed clients going away (it happens asynchronously)."""
        wait_until(lambda: self.health()["live_sessions"] == count, timeout,
                   lambda: f"live sessions stayed at {self.health()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)

    def stop_cleanly(self) -> None:
        """Stop, and fail unless the server exited 0 with no traceback in its log."""
        self.stop()
        self.assert_clean_exit()

    def assert_clean_exit(self) -> None:
        """Fail unless the stopped server exited 0 with no traceback in its log (for
        fixtures that stop it in a `finally` and check after, so that a failed set-up is
        not hidden by this check)."""
        log = self.log.read_text(errors="replace")
        assert self.proc.returncode == 0 and "Traceback" not in log, log


@cache
def _no_dns() -> DnsStub:
    """One empty DNS server for this test process: every name is NXDOMAIN, at once."""
    return DnsStub({})


def start_server(data: Path, listeners: tuple[str, ...] = ("pop3", "pop3s", "http"),
                 extra_env: dict[str, str] | None = None, oauth_issuer: str | None = None
                 ) -> RunningServer:
    """`oauth_issuer` (`http` or `https`): the OAuth issuer is the URL of that listener as
    a client reaches it, not the default https://localhost; `localhost`: the http listener
    as http://localhost:PORT (WebAuthn needs a host name, not an address)."""
    env = dict(os.environ)
    # Every test client connects from 127.0.0.1: the per-address cap would count them as one.
    env["MAILGATE_AUTH_MAX_UNAUTHENTICATED_PER_ADDRESS"] = "100000"
    # ... and the failed sign-in throttle would slow every test after a few wrong passwords.
    env["MAILGATE_AUTH_THROTTLE_MAX_DELAY_MS"] = "0"
    # The inbound SPF/DKIM/DMARC checks ask DNS: no test depends on the network's answers.
    env["MAILGATE_SERVER_NAMESERVERS"] = _no_dns().address
    for _ in range(PORT_ATTEMPTS):
        ports = {name: free_port() for name in listeners}
        run_env = {**env, **_listening_env(ports, oauth_issuer), **(extra_env or {})}
        if not (data / "mailgate.db").exists():
            subprocess.run([sys.executable, "-m", "mailgate", "--data", str(data), "init"],
                           check=True, capture_output=True, env=run_env, timeout=60)
        server = _serve(data, ports, run_env)
        if server is not None:
            return server
    raise RuntimeError(f"mailgate serve exited: {(data / 'serve.log').read_text()}")


#: A port free when `free_port` looked can be taken before the server binds it, by a test
#: run beside this one: the server then says so and exits, and starts again on other ports.
PORT_ATTEMPTS = 5
_IN_USE = b"address already in use"
#: what `mailgate serve` writes once every listener is up (cli/server.py)
READY = b"mailgate is serving"


def _listening_env(ports: dict[str, int], oauth_issuer: str | None) -> dict[str, str]:
    env = {f"MAILGATE_LISTEN_{name.upper()}": (f"127.0.0.1:{ports[name]}"
                                               if name in ports else "")
           for name in LISTENERS}
    if oauth_issuer == "http":
        env["MAILGATE_AUTH_OAUTH_ISSUER"] = f"http://127.0.0.1:{ports['http']}"
    elif oauth_issuer == "localhost":
        env["MAILGATE_AUTH_OAUTH_ISSUER"] = f"http://localhost:{ports['http']}"
    elif oauth_issuer == "https":  # the certificate names localhost
        env["MAILGATE_AUTH_OAUTH_ISSUER"] = f"https://localhost:{ports['https']}"
    return env


def _serve(data: Path, ports: dict[str, int], env: dict[str, str]) -> RunningServer | None:
    """`mailgate serve`, once it says it serves (its own words in its own log: another
    process on one of its ports cannot answer for it); None when a port was taken."""
    log = data / "serve.log"
    out = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "mailgate", "--data", str(data), "serve"],
                            stdout=out, stderr=subprocess.STDOUT, env=env)
    server = RunningServer(data, ports, proc, log, env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        said = log.read_bytes()
        if proc.poll() is not None:
            if _IN_USE in said:
                return None
            raise RuntimeError(f"mailgate serve exited: {said.decode(errors='replace')}")
        if READY in said:
            return server
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"mailgate serve did not become ready: {log.read_text()}")

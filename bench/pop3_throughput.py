"""POP3 full-download throughput vs Dovecot on the same 1 000-message mailbox (issue 3).

The mailbox: make-corpus --count 1000 --maildir --inbox-only (mixed 2-200 KB, real MIME).
mailgate gets it with `mailgate import user1@example.test MAILDIR`; Dovecot gets the same
Maildir as user1's mailbox (dovecot-reference --maildir). One download = sign in (USER/PASS,
not timed: Dovecot verifies argon2id even on an auth-cache hit), then timed: LIST, RETR of
every message, QUIT, with Python's poplib (its line-length limit
raised: the corpus has single-line HTML parts longer than poplib's 2 048 octets). A second
client ("raw": one socket, RETR answers read in 256 KiB blocks up to the terminating dot) shows
the servers with less client overhead. One untimed download on each server first (Dovecot
builds its index and UID list then). Rounds alternate which server goes first.

Prints MB/s (median of the rounds; MB = 10^6 octets of RETR payload as received) and the
ratio mailgate/Dovecot (higher is better; target >= 1.0).

    .venv/bin/python bench/pop3_throughput.py [--quick] [--count N] [--rounds R]
"""

from __future__ import annotations

import argparse
import poplib
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

USER = f"user1@{bl.DOMAIN}"
poplib._MAXLINE = 1 << 20  # type: ignore[attr-defined]


def download_poplib(port: int) -> tuple[float, int, int]:
    """(seconds, messages, octets) of one full download with poplib."""
    client = poplib.POP3("127.0.0.1", port, timeout=120)
    client.user(USER)
    client.pass_(bl.PASSWORD)
    t0 = time.perf_counter()  # the download only: sign-in costs are in signin.py
    _, listing, _ = client.list()
    octets = 0
    for entry in listing:
        number = int(entry.split()[0])
        _, _lines, size = client.retr(number)
        octets += size
    client.quit()
    return time.perf_counter() - t0, len(listing), octets


def _expect_ok(sock: socket.socket, buf: bytearray) -> bytes:
    while b"\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise bl.Pop3Error("connection closed")
        buf += chunk
    line, _, rest = bytes(buf).partition(b"\r\n")
    buf[:] = rest
    if not line.startswith(b"+OK"):
        raise bl.Pop3Error(line.decode(errors="replace"))
    return line


def _multiline(sock: socket.socket, buf: bytearray) -> int:
    """Read a multi-line answer (after its +OK line) up to CRLF.CRLF; returns its octets."""
    end = b"\r\n.\r\n"
    while True:
        # The terminator may follow the status line directly (empty body).
        if buf.startswith(b".\r\n"):
            del buf[:3]
            return 0
        at = buf.find(end)
        if at >= 0:
            size = at + 2
            del buf[:at + len(end)]
            return size
        chunk = sock.recv(262144)
        if not chunk:
            raise bl.Pop3Error("connection closed inside a multi-line answer")
        buf += chunk


def download_raw(port: int) -> tuple[float, int, int]:
    sock = socket.create_connection(("127.0.0.1", port), 120)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    buf = bytearray()
    _expect_ok(sock, buf)
    for command in (f"USER {USER}", f"PASS {bl.PASSWORD}"):
        sock.sendall(command.encode() + b"\r\n")
        _expect_ok(sock, buf)
    t0 = time.perf_counter()
    sock.sendall(b"LIST\r\n")
    _expect_ok(sock, buf)
    at = buf.find(b"\r\n.\r\n")
    while at < 0 and not buf.startswith(b".\r\n"):
        buf += sock.recv(65536)
        at = buf.find(b"\r\n.\r\n")
    listing = bytes(buf[:at]).split(b"\r\n") if at >= 0 else []
    del buf[:at + 5 if at >= 0 else 3]
    octets = 0
    for entry in listing:
        sock.sendall(b"RETR " + entry.split()[0] + b"\r\n")
        _expect_ok(sock, buf)
        octets += _multiline(sock, buf)
    sock.sendall(b"QUIT\r\n")
    _expect_ok(sock, buf)
    sock.close()
    return time.perf_counter() - t0, len(listing), octets


CLIENTS = {"poplib": download_poplib, "raw": download_raw}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 300 messages, 2 rounds")
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    count = a.count or (300 if a.quick else 1000)
    rounds = a.rounds or (2 if a.quick else 5)
    bl.need_mailgate_mime()

    with bl.workspace("pop3-throughput", a.keep) as work:
        src = bl.make_corpus(work / "corpus", count, inbox_only=True)
        files, size = bl.tree_bytes(src)
        print(f"mailbox: {files} messages, {size / 1e6:.1f} MB")
        data = work / "mailgate"
        bl.mg_mailbox(data, USER, src, pop=True)
        mg = bl.MailgateServer(data)
        dv = bl.DovecotReference(work / "dovecot", users=1, maildir=src)
        servers = {"mailgate": mg, "dovecot": dv}
        rates: dict[str, dict[str, list[float]]] = {c: {s: [] for s in servers} for c in CLIENTS}
        seen: dict[str, tuple[int, int]] = {}
        try:
            mg.start()
            dv.start()
            for name, server in servers.items():  # untimed: indexes, caches, sign-in cache
                _, messages, octets = download_poplib(server.pop3)
                seen[name] = (messages, octets)
                print(f"warm-up {name}: {messages} messages, {octets / 1e6:.1f} MB")
            for r in range(rounds):
                order = list(servers) if r % 2 == 0 else list(servers)[::-1]
                for client, download in CLIENTS.items():
                    for name in order:
                        elapsed, messages, octets = download(servers[name].pop3)
                        if messages != seen[name][0]:
                            raise RuntimeError(f"{name}: {messages} messages, expected "
                                               f"{seen[name][0]}")
                        rates[client][name].append(octets / 1e6 / elapsed)
                        print(f"round {r + 1}/{rounds}: {client:<6} {name:<8} "
                              f"{octets / 1e6 / elapsed:7.1f} MB/s ({elapsed:.2f}s)")
        except Exception:
            print(f"mailgate serve log tail:\n{mg.log_tail()}", file=sys.stderr)
            raise
        finally:
            mg.stop()
            dv.stop()

    rows, summary = [], {}
    for client in CLIENTS:
        m, d = bl.median(rates[client]["mailgate"]), bl.median(rates[client]["dovecot"])
        summary[client] = {"mailgate_mb_s": m, "dovecot_mb_s": d, "ratio": bl.ratio(m, d)}
        rows.append([f"{client} client", m, d, bl.ratio(m, d)])
    bl.print_table(
        f"POP3 full download (LIST, RETR x {seen['mailgate'][0]}, QUIT), median of {rounds} "
        "rounds; MB/s, higher is better, target ratio >= 1.0",
        ["", "mailgate MB/s", "dovecot MB/s", "mailgate/dovecot"], rows)
    if seen["mailgate"] != seen["dovecot"]:
        print(f"note: octets served differ: mailgate {seen['mailgate']}, "
              f"dovecot {seen['dovecot']} (messages, octets)")
    bl.write_results("pop3_throughput", {
        "quick": a.quick, "messages": files, "corpus_bytes": size, "rounds": rounds,
        "served": seen, "better": "higher ratio (MB/s)", "summary": summary,
        "raw": rates})


if __name__ == "__main__":
    main()

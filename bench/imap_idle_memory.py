"""Memory per IMAP session in IDLE, over TLS and plaintext, mailgate vs Dovecot (IMAP issue).

Opens N (default 2 000) IMAP sessions, each signed in as its own user (LOGIN), with INBOX
selected and IDLE started (what a mail client keeps open), once over implicit TLS (`imaps`)
and once in plaintext (`imap`). Memory is the PSS (proportional set size: pages shared
between processes are split, not double counted) summed over the server's processes from
/proc/PID/smaps_rollup: mailgate's one `serve` process; every process under Dovecot's master
(imap-login, which also terminates TLS and proxies to the session's process, auth, one imap
process per session...). Per session = (PSS with N sessions - PSS before, after one warm-up
session) / N.

mailgate: N+1 accounts inserted straight into the database (SQLAlchemy Core, default
folders; IMAP is on by the plan's default) sharing one argon2id hash at the production
cost; Dovecot: dovecot-reference --users N+1, with TLS (benchlib.DovecotReference(tls=True):
a self-signed P-256 certificate like mailgate's). Every sign-in verifies argon2id on both
servers (mailgate starts with an empty credential cache; Dovecot's cache keeps the hash), so
each measurement costs N verifications: minutes on a small machine. Every measurement gets a
fresh server, each alone while measured. Dovecot's IDLE takes one inotify instance per imap
process: fs.inotify.max_user_instances is raised for the run (and put back after), else
Dovecot falls back to polling. Memory is hardly noisy, so one round by default.

Prints KiB per session for each transport and server and the ratio mailgate/Dovecot (lower
is better; target at most 1/20 = 0.05).

    .venv/bin/python bench/imap_idle_memory.py [--quick] [--sessions N] [--rounds R]
        [--transport tls,plain]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

TRANSPORTS = ("tls", "plain")


def names(n: int) -> list[str]:
    return [f"user{i}@{bl.DOMAIN}" for i in range(1, n + 1)]


async def still_idling(sessions: list[bl.ImapClient]) -> int:
    """How many sessions are still connected (DONE answered OK)."""
    alive = 0
    for client in sessions:
        with contextlib.suppress(*bl.SIGN_IN_ERRORS):
            await client.done()
            alive += 1
    return alive


async def close_all(sessions: list[bl.ImapClient]) -> None:
    await asyncio.gather(*(client.close() for client in sessions))


def measure(name: str, port: int, tls: bool, pids: Callable[[], list[int]],
            users: list[str], concurrency: int, settle: float) -> dict:
    async def warm_up() -> None:
        client = await bl.ImapClient.connect(port, tls=tls)
        await client.login(users[0])
        await client.command("SELECT INBOX")
        await client.logout()

    return asyncio.run(bl.session_memory(
        name, pids, warm_up, len(users) - 1,
        lambda i: bl.imap_idle_session(port, users[i + 1], tls=tls), still_idling, close_all,
        concurrency, settle))


def measure_mailgate(data: Path, tls: bool, users: list[str], a: argparse.Namespace) -> dict:
    server = bl.MailgateServer(data, listeners=("imap", "imaps"))
    try:
        server.start()
        pid = server.pid
        return measure(f"mailgate {'tls' if tls else 'plain'}",
                       server.imaps if tls else server.imap, tls,
                       lambda: bl.children_of(pid), users, a.concurrency, a.settle)
    except Exception:
        print(f"mailgate serve log tail:\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()


def measure_dovecot(work: Path, tls: bool, users: list[str], a: argparse.Namespace) -> dict:
    ref = bl.DovecotReference(work, users=len(users), tls=True)
    try:
        ref.start()
        port = ref.imaps if tls else ref.imap
        assert port is not None and ref.master_pid is not None
        master = ref.master_pid
        return measure(f"dovecot {'tls' if tls else 'plain'}", port, tls,
                       lambda: bl.children_of(master), users, a.concurrency, a.settle)
    finally:
        ref.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 50 sessions")
    ap.add_argument("--sessions", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--transport", default=",".join(TRANSPORTS),
                    help="tls, plain or both (comma-separated)")
    ap.add_argument("--concurrency", type=int, default=20, help="sign-ins in flight")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds before each reading")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    n = a.sessions or (50 if a.quick else 2000)
    transports = [t for t in a.transport.split(",") if t]
    if not transports or set(transports) - set(TRANSPORTS):
        sys.exit(f"--transport: choose from {', '.join(TRANSPORTS)}")
    limit = bl.raise_nofile(max(65536, 4 * n + 1024))
    if limit < 2 * n + 256:
        sys.exit(f"open-file limit {limit} is too low for {n} sessions")
    users = names(n + 1)  # one extra for the warm-up session

    results: dict[str, dict[str, list[dict]]] = {
        t: {"mailgate": [], "dovecot": []} for t in transports}
    with bl.workspace("imap-memory", a.keep) as work, bl.inotify_instances(2 * n + 512):
        data = work / "mailgate"
        bl.mg_init(data)
        t0 = time.perf_counter()
        bl.bulk_accounts(data, users, pop=False)
        print(f"{len(users)} mailgate accounts inserted in {time.perf_counter() - t0:.1f}s")
        step = 0
        for r in range(a.rounds):
            for transport in transports:
                step += 1
                order = ["mailgate", "dovecot"] if step % 2 else ["dovecot", "mailgate"]
                for side in order:
                    print(f"round {r + 1}/{a.rounds}: {side} over {transport}", flush=True)
                    tls = transport == "tls"
                    got = (measure_mailgate(data, tls, users, a) if side == "mailgate" else
                           measure_dovecot(work / f"dovecot-{step}", tls, users, a))
                    results[transport][side].append(got)

    rows, summary = [], {}
    for transport in transports:
        per = {side: bl.median([x["per_session_kib"] for x in results[transport][side]])
               for side in ("mailgate", "dovecot")}
        r = bl.ratio(per["mailgate"], per["dovecot"])
        summary[transport] = {"mailgate_kib_per_session": per["mailgate"],
                              "dovecot_kib_per_session": per["dovecot"], "ratio": r}
        for side in ("mailgate", "dovecot"):
            last = results[transport][side][-1]
            rows.append([f"{side} {transport}", per[side], last["pss_before_kib"] / 1024,
                         last["pss_after_kib"] / 1024, str(last["processes_after"]),
                         f"{last['alive']}/{last['sessions']}",
                         r if side == "mailgate" else float("nan")])
    bl.print_table(
        f"IMAP sessions in IDLE (INBOX selected): PSS per session, {n} sessions, median of "
        f"{a.rounds} round(s); lower is better, target ratio <= 0.05 (1/20)",
        ["server", "KiB/session", "PSS before MiB", "PSS after MiB", "processes after",
         "still idling", "mailgate/dovecot"], rows)
    for transport, s in summary.items():
        verdict = "meets" if s["ratio"] <= 0.05 else "MISSES"
        print(f"target over {transport}: mailgate at most 1/20 of Dovecot per session -> "
              f"{verdict} ({s['ratio']:.3f}, i.e. 1/{1 / s['ratio'] if s['ratio'] else 0:.0f})")
    bl.write_results("imap_idle_memory", {
        "quick": a.quick, "sessions": n, "rounds": a.rounds, "transports": transports,
        "better": "lower ratio (KiB per session)", "summary": summary, "raw": results})


if __name__ == "__main__":
    main()

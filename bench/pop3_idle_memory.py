"""Memory per signed-in idle POP3 session, plaintext and TLS, mailgate vs Dovecot (issues 3, 11).

Opens N (default 2 000) POP3 sessions, each signed in with USER/PASS as its own user (mailgate
allows one maildrop session per account, [IN-USE]), and leaves them idle; then closes them
all. Once per transport: `plain`, `pop3s` (TLS from the first byte) and `stls` (upgraded with
STLS); `--transports` picks some. Memory is the PSS (proportional set size, so pages shared
between processes are split, not double counted) summed over the server's processes from
/proc/PID/smaps_rollup: mailgate's one `serve` process; every process under Dovecot's master
(login, auth, one pop3 process per session...).
Per session = (PSS with N sessions - PSS before, after one warm-up sign-in) / N.
Left after close = PSS `--settle-closed` seconds after the N sessions closed - PSS before:
what a burst of connections leaves behind (mailgate gives freed memory back to the system at
its next idle sweep, at most 30 s later).

mailgate: N accounts inserted straight into the database (SQLAlchemy Core, default folders,
POP on) sharing one argon2id hash at the production cost; Dovecot: dovecot-reference
--users N (same password, {ARGON2ID} same cost), with TLS turned on for pop3s and stls.
Every first sign-in of a user verifies argon2id, so setting up 2 000 sessions takes minutes on
a small machine (mailgate's credential cache makes its later transports' sign-ins warm;
Dovecot's cache keeps only the hash). The servers run one after the other (each alone while
measured). Memory is hardly noisy, so one round by default (--rounds to repeat; medians then).

Prints KiB per session for each and the ratio mailgate/Dovecot (lower is better; target at
most 1/20 = 0.05).

    .venv/bin/python bench/pop3_idle_memory.py [--quick] [--sessions N] [--rounds R]
                                               [--transports plain,pop3s,stls]
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


def names(n: int) -> list[str]:
    return [f"user{i}@{bl.DOMAIN}" for i in range(1, n + 1)]


async def open_sessions(port: int, users: list[str], concurrency: int, transport: str):  # type: ignore[no-untyped-def]
    """Sign every user in and keep the connections; returns (sessions, errors)."""
    sessions, errors = [], {}
    gate = asyncio.Semaphore(concurrency)
    done = 0
    t0 = time.perf_counter()

    async def one(user: str) -> None:
        nonlocal done
        async with gate:
            try:
                sessions.append(await bl.pop3_open(port, user, timeout=600,
                                                   transport=transport))
            except (TimeoutError, OSError, bl.Pop3Error) as exc:
                key = f"{type(exc).__name__}: {exc}"[:120]
                errors[key] = errors.get(key, 0) + 1
            done += 1
            if done % 250 == 0:
                print(f"    {done}/{len(users)} signed in ({time.perf_counter() - t0:.0f}s)",
                      flush=True)

    await asyncio.gather(*(one(u) for u in users))
    return sessions, errors


async def still_open(sessions) -> int:  # type: ignore[no-untyped-def]
    """How many sessions are still connected (NOOP answered +OK)."""
    alive = 0
    for reader, writer in sessions:
        with contextlib.suppress(Exception):
            writer.write(b"NOOP\r\n")
            line = await asyncio.wait_for(reader.readline(), 10)
            alive += line.startswith(b"+OK")
    return alive


async def close_all(sessions) -> None:  # type: ignore[no-untyped-def]
    for _, writer in sessions:
        writer.close()
    await asyncio.gather(*(writer.wait_closed() for _, writer in sessions),
                         return_exceptions=True)


def measure(name: str, transport: str, port: int, pids: Callable[[], list[int]],
            users: list[str], concurrency: int, settle: float, settle_closed: float) -> dict:
    label = f"{name} {transport}"

    async def run() -> dict:
        warm = await bl.pop3_open(port, users[0], transport=transport)
        await bl.pop3_quit(*warm)
        await asyncio.sleep(settle)
        before, procs_before = bl.pss_kb(pids())
        print(f"  {label}: {before / 1024:.1f} MiB PSS in {procs_before} process(es) before; "
              f"opening {len(users) - 1} sessions ...", flush=True)
        t0 = time.perf_counter()
        sessions, errors = await open_sessions(port, users[1:], concurrency, transport)
        opened_in = time.perf_counter() - t0
        await asyncio.sleep(settle)
        after, procs_after = bl.pss_kb(pids())
        alive = await still_open(sessions)
        await close_all(sessions)
        await asyncio.sleep(settle_closed)
        closed, _ = bl.pss_kb(pids())
        per = (after - before) / len(sessions) if sessions else float("nan")
        print(f"  {label}: {len(sessions)} sessions ({alive} still answering NOOP) in "
              f"{opened_in:.0f}s; {after / 1024:.1f} MiB PSS in {procs_after} process(es); "
              f"{per:.1f} KiB per session; {(closed - before) / 1024:.1f} MiB left "
              f"{settle_closed:.0f}s after closing them", flush=True)
        if errors:
            print(f"  {label}: failed sign-ins: {errors}")
        return {"sessions": len(sessions), "alive": alive, "errors": errors,
                "pss_before_kib": before, "pss_after_kib": after, "pss_closed_kib": closed,
                "left_after_close_kib": closed - before,
                "processes_before": procs_before, "processes_after": procs_after,
                "per_session_kib": per, "open_seconds": opened_in}

    return asyncio.run(run())


def serve_and_measure(side: str, workdir: Path, data: Path, users: list[str],
                      transports: list[str], a: argparse.Namespace) -> dict[str, dict]:
    """Start one server, measure each transport on it, stop it."""
    tls = any(t != "plain" for t in transports)
    if side == "mailgate":
        server = bl.MailgateServer(data, listeners=("pop3", "pop3s") if tls else ("pop3",))
        try:
            server.start()
            pid = server.pid
            ports = {"plain": server.pop3, "stls": server.pop3,
                     "pop3s": server.ports.get("pop3s")}
            return {t: measure(side, t, ports[t], lambda p=pid: bl.children_of(p), users,
                               a.concurrency, a.settle, a.settle_closed)
                    for t in transports}
        except Exception:
            print(f"mailgate serve log tail:\n{server.log_tail()}", file=sys.stderr)
            raise
        finally:
            server.stop()
    ref = bl.DovecotReference(workdir, users=len(users))
    try:
        ref.start()
        if tls:
            ref.enable_tls()
        master = ref.master_pid
        assert master is not None
        ports = {"plain": ref.pop3, "stls": ref.pop3, "pop3s": ref.pop3s}
        return {t: measure(side, t, ports[t], lambda p=master: bl.children_of(p), users,
                           a.concurrency, a.settle, a.settle_closed)
                for t in transports}
    finally:
        ref.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 50 sessions")
    ap.add_argument("--sessions", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=20, help="sign-ins in flight")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds before each reading")
    ap.add_argument("--settle-closed", type=float, default=35.0,
                    help="seconds between closing the sessions and the last reading")
    ap.add_argument("--transports", default=",".join(bl.TRANSPORTS),
                    help="comma-separated, from: " + ", ".join(bl.TRANSPORTS))
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    transports = [t.strip() for t in a.transports.split(",") if t.strip()]
    unknown = set(transports) - set(bl.TRANSPORTS)
    if unknown or not transports:
        sys.exit(f"--transports: choose from {', '.join(bl.TRANSPORTS)}")
    n = a.sessions or (50 if a.quick else 2000)
    limit = bl.raise_nofile(max(65536, 4 * n + 1024))
    if limit < 2 * n + 256:
        sys.exit(f"open-file limit {limit} is too low for {n} sessions")
    users = names(n + 1)  # one extra for the warm-up sign-in

    results: dict[str, dict[str, list[dict]]] = {
        side: {t: [] for t in transports} for side in ("mailgate", "dovecot")}
    with bl.workspace("pop3-memory", a.keep) as work:
        data = work / "mailgate"
        bl.mg_init(data)
        t0 = time.perf_counter()
        bl.bulk_accounts(data, users)
        print(f"{len(users)} mailgate accounts inserted in {time.perf_counter() - t0:.1f}s")
        for r in range(a.rounds):
            order = ["mailgate", "dovecot"] if r % 2 == 0 else ["dovecot", "mailgate"]
            for side in order:
                print(f"round {r + 1}/{a.rounds}: {side}")
                measured = serve_and_measure(side, work / f"dovecot-{r}", data, users,
                                             transports, a)
                for t in transports:
                    results[side][t].append(measured[t])

    rows, summary = [], {}
    for t in transports:
        mg = bl.median([r["per_session_kib"] for r in results["mailgate"][t]])
        dv = bl.median([r["per_session_kib"] for r in results["dovecot"][t]])
        r = bl.ratio(mg, dv)
        summary[t] = {"mailgate_kib_per_session": mg, "dovecot_kib_per_session": dv,
                      "ratio": r}
        for side, value, shown in (("mailgate", mg, r), ("dovecot", dv, float("nan"))):
            last = results[side][t][-1]
            rows.append([side, t, value, last["pss_before_kib"] / 1024,
                         last["pss_after_kib"] / 1024, last["left_after_close_kib"] / 1024,
                         str(last["processes_after"]), shown])
    bl.print_table(
        f"Idle signed-in POP3 sessions: PSS per session, {n} sessions, median of {a.rounds} "
        "round(s); lower is better, target ratio <= 0.05 (1/20)",
        ["server", "transport", "KiB/session", "PSS before MiB", "PSS after MiB",
         "left after close MiB", "processes after", "mailgate/dovecot"], rows)
    print()
    for t, figures in summary.items():
        r = figures["ratio"]
        verdict = "meets" if r <= 0.05 else "MISSES"
        print(f"target ({t}): mailgate at most 1/20 of Dovecot per session -> {verdict} "
              f"({r:.3f}, i.e. 1/{1 / r if r else float('inf'):.0f})")
    bl.write_results("pop3_idle_memory", {
        "quick": a.quick, "sessions": n, "rounds": a.rounds, "transports": transports,
        "better": "lower ratio (KiB per session)", "summary": summary, "raw": results})


if __name__ == "__main__":
    main()

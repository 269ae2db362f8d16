"""Memory per signed-in idle POP3 session, mailgate vs Dovecot (issue 3).

Opens N (default 2 000) POP3 sessions, each signed in with USER/PASS as its own user (mailgate
allows one maildrop session per account, [IN-USE]), and leaves them idle. Memory is the PSS
(proportional set size, so pages shared between processes are split, not double counted)
summed over the server's processes from /proc/PID/smaps_rollup: mailgate's one `serve`
process; every process under Dovecot's master (login, auth, one pop3 process per session...).
Per session = (PSS with N sessions - PSS before, after one warm-up sign-in) / N.

mailgate: N accounts inserted straight into the database (SQLAlchemy Core, default folders,
POP on) sharing one argon2id hash at the production cost; Dovecot: dovecot-reference
--users N (same password, {ARGON2ID} same cost). Every sign-in is a first one, so both
servers verify argon2id N times: setting up 2 000 sessions takes minutes on a small machine.
The servers run one after the other (each alone while measured). Memory is hardly noisy, so
one round by default (--rounds to repeat; medians then).

Prints KiB per session for each and the ratio mailgate/Dovecot (lower is better; target at
most 1/20 = 0.05).

    .venv/bin/python bench/pop3_idle_memory.py [--quick] [--sessions N] [--rounds R]
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


async def still_open(sessions) -> int:  # type: ignore[no-untyped-def]
    """How many sessions are still connected (NOOP answered +OK)."""
    alive = 0
    for reader, writer in sessions:
        with contextlib.suppress(Exception):
            writer.write(b"NOOP\r\n")
            line = await asyncio.wait_for(reader.readline(), 10)
            alive += line.startswith(b"+OK")
    return alive


def measure(name: str, port: int, pids: Callable[[], list[int]], users: list[str],
            concurrency: int, settle: float) -> dict:
    async def warm_up() -> None:
        await bl.pop3_quit(*await bl.pop3_open(port, users[0]))

    async def close(sessions) -> None:  # type: ignore[no-untyped-def]
        for _, writer in sessions:
            writer.close()

    return asyncio.run(bl.session_memory(
        name, pids, warm_up, len(users) - 1,
        lambda i: bl.pop3_open(port, users[i + 1], timeout=600), still_open, close,
        concurrency, settle))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 50 sessions")
    ap.add_argument("--sessions", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=20, help="sign-ins in flight")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds before each reading")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    n = a.sessions or (50 if a.quick else 2000)
    limit = bl.raise_nofile(max(65536, 4 * n + 1024))
    if limit < 2 * n + 256:
        sys.exit(f"open-file limit {limit} is too low for {n} sessions")
    users = names(n + 1)  # one extra for the warm-up sign-in

    results: dict[str, list[dict]] = {"mailgate": [], "dovecot": []}
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
                if side == "mailgate":
                    server = bl.MailgateServer(data)
                    try:
                        server.start()
                        pid = server.pid
                        results[side].append(measure(side, server.pop3,
                                                     lambda p=pid: bl.children_of(p), users,
                                                     a.concurrency, a.settle))
                    except Exception:
                        print(f"mailgate serve log tail:\n{server.log_tail()}", file=sys.stderr)
                        raise
                    finally:
                        server.stop()
                else:
                    ref = bl.DovecotReference(work / f"dovecot-{r}", users=len(users))
                    try:
                        ref.start()
                        master = ref.master_pid
                        assert master is not None
                        results[side].append(measure(side, ref.pop3,
                                                     lambda p=master: bl.children_of(p), users,
                                                     a.concurrency, a.settle))
                    finally:
                        ref.stop()

    mg = bl.median([r["per_session_kib"] for r in results["mailgate"]])
    dv = bl.median([r["per_session_kib"] for r in results["dovecot"]])
    last = {s: results[s][-1] for s in results}
    bl.print_table(
        f"Idle signed-in POP3 sessions: PSS per session, {n} sessions, median of {a.rounds} "
        "round(s); lower is better, target ratio <= 0.05 (1/20)",
        ["server", "KiB/session", "PSS before MiB", "PSS after MiB", "processes after",
         "mailgate/dovecot"],
        [["mailgate", mg, last["mailgate"]["pss_before_kib"] / 1024,
          last["mailgate"]["pss_after_kib"] / 1024, str(last["mailgate"]["processes_after"]),
          bl.ratio(mg, dv)],
         ["dovecot", dv, last["dovecot"]["pss_before_kib"] / 1024,
          last["dovecot"]["pss_after_kib"] / 1024, str(last["dovecot"]["processes_after"]),
          float("nan")]])
    r = bl.ratio(mg, dv)
    verdict = "meets" if r <= 0.05 else "MISSES"
    print(f"\ntarget: mailgate at most 1/20 of Dovecot per session -> {verdict} "
          f"({r:.3f}, i.e. 1/{1 / r if r else float('inf'):.0f})")
    bl.write_results("pop3_idle_memory", {
        "quick": a.quick, "sessions": n, "rounds": a.rounds,
        "better": "lower ratio (KiB per session)",
        "summary": {"mailgate_kib_per_session": mg, "dovecot_kib_per_session": dv,
                    "ratio": r},
        "raw": results})


if __name__ == "__main__":
    main()

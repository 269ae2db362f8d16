"""POP3 sign-ins per second vs Dovecot, and event propagation latency (issues 2 and 3).

Sign-in rate: USER/PASS + QUIT over POP3 on loopback with 20 concurrent clients, against
`mailgate serve` (pop3 listener) and dovecot-reference's pop3 (passwd-file, {ARGON2ID} at the
same cost as mailgate's production default, m=65536 KiB t=3 p=1, auth cache on). Both servers
run at once; rounds alternate which goes first.

  warm  every client signs in as its own user (user1..user20) again and again for a fixed
        time, after one priming sign-in each: mailgate's verified-credential cache and
        Dovecot's auth cache answer, no argon2id runs.
  cold  first sign-in of fresh users (a new slice of users every round, each signs in once,
        20 at a time): one argon2id verification each, on both servers.

Prints sign-ins per second (median of the rounds) and the ratio mailgate/Dovecot (higher is
better; target >= 1.0).

Propagation latency (mailgate only; there is no Dovecot equivalent, and Exchange Online
documents up to 24 hours): with a POP3 session signed in (an account with POP on), run
`mailgate account compromise ADDR --reason x` as a separate process and time until the server
closes the POP3 connection, measured from the CLI's start, from the change's own timestamp
(the event row the CLI commits), and from the CLI's exit (negative: closed before the CLI had
exited). Median over the runs.

    .venv/bin/python bench/signin.py [--quick] [--rounds R] [--clients C]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl


def users(first: int, count: int) -> list[str]:
    return [f"user{i}@{bl.DOMAIN}" for i in range(first, first + count)]


async def pop3_sign_in(port: int, user: str) -> None:
    """USER/PASS, then QUIT."""
    reader, writer = await bl.pop3_open(port, user)
    await bl.pop3_quit(reader, writer)


async def propagation(mg: bl.MailgateServer, names: list[str]) -> list[dict[str, float]]:
    """Sign in, compromise from the CLI, time until the server closes the session."""
    runs = []
    for user in names:
        reader, writer = await bl.pop3_open(mg.pop3, user)
        closed = asyncio.get_running_loop().create_future()

        async def watch(r: asyncio.StreamReader = reader,
                        done: asyncio.Future[float] = closed) -> None:
            try:
                while await r.read(4096):
                    pass
            except OSError:
                pass
            done.set_result(time.time())

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.3)  # the session is registered and idle
        start = time.time()
        proc = await asyncio.create_subprocess_exec(
            str(bl.MAILGATE), "--data", str(mg.data), "account", "compromise", user,
            "--reason", "x", stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        exited = time.time()
        if proc.returncode != 0:
            raise RuntimeError(f"account compromise failed: {err.decode().strip()}")
        try:
            at_close = await asyncio.wait_for(closed, 10)
        except TimeoutError:
            at_close = float("nan")
        watcher.cancel()
        writer.close()
        changed = bl.change_committed_at(mg.data, "account.compromise")
        runs.append({"from_cli_start_ms": (at_close - start) * 1e3,
                     "from_change_ms": (at_close - changed) * 1e3,
                     "from_cli_exit_ms": (at_close - exited) * 1e3,
                     "cli_runtime_ms": (exited - start) * 1e3})
        r = runs[-1]
        print(f"  propagation {len(runs)}/{len(names)}: closed {r['from_change_ms']:.0f} ms "
              f"after the change, {r['from_cli_exit_ms']:.0f} ms after the CLI exited "
              f"(CLI ran {r['cli_runtime_ms']:.0f} ms)")
    return runs


async def run(a: argparse.Namespace, mg: bl.MailgateServer, dv: bl.DovecotReference,
              warm_users: list[str], cold_users: list[str], prop_users: list[str]) -> dict:
    servers = {name: functools.partial(pop3_sign_in, port)
               for name, port in (("mailgate", mg.pop3), ("dovecot", dv.pop3))}
    result = await bl.sign_in_rounds(servers, warm_users, cold_users, rounds=a.rounds,
                                     clients=a.clients, seconds=a.seconds,
                                     cold_per_round=a.cold_users)
    print("propagation (mailgate only):")
    result["propagation"] = await propagation(mg, prop_users)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 short rounds")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--clients", type=int, default=20, help="concurrent POP3 clients")
    ap.add_argument("--seconds", type=float, default=None, help="length of a warm round")
    ap.add_argument("--cold-users", type=int, default=None, help="fresh users per cold round")
    ap.add_argument("--propagation-runs", type=int, default=None)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    a.rounds = a.rounds or (2 if a.quick else 5)
    a.seconds = a.seconds or (2.0 if a.quick else 6.0)
    a.cold_users = a.cold_users or (a.clients // 2 if a.quick else 2 * a.clients)
    a.propagation_runs = a.propagation_runs or (3 if a.quick else 10)
    bl.raise_nofile()

    warm_users = users(1, a.clients)
    cold_users = users(a.clients + 1, a.rounds * a.cold_users)
    prop_users = users(a.clients + 1 + len(cold_users), a.propagation_runs)
    total = a.clients + len(cold_users) + len(prop_users)

    with bl.workspace("signin", a.keep) as work:
        data = work / "mailgate"
        bl.mg_init(data)
        bl.bulk_accounts(data, warm_users + cold_users + prop_users)
        mg = bl.MailgateServer(data)
        dv = bl.DovecotReference(work / "dovecot", users=total)
        try:
            mg.start()
            dv.start()
            result = asyncio.run(run(a, mg, dv, warm_users, cold_users, prop_users))
        except Exception:
            print(f"mailgate serve log tail:\n{mg.log_tail()}", file=sys.stderr)
            raise
        finally:
            mg.stop()
            dv.stop()

    rows = []
    summary: dict[str, float] = {}
    for kind in ("warm", "cold"):
        m = bl.median(result[kind]["mailgate"])
        d = bl.median(result[kind]["dovecot"])
        summary[f"{kind}_mailgate_per_sec"] = m
        summary[f"{kind}_dovecot_per_sec"] = d
        summary[f"{kind}_ratio"] = bl.ratio(m, d)
        rows.append([f"{kind} cache", m, d, bl.ratio(m, d)])
    bl.print_table(
        f"POP3 sign-ins per second (USER/PASS+QUIT, {a.clients} concurrent clients, argon2id "
        f"m=65536 t=3 p=1 on both), median of {a.rounds} rounds; higher is better, "
        "target ratio >= 1.0",
        ["", "mailgate/s", "dovecot/s", "mailgate/dovecot"], rows)
    prop = result["propagation"]
    keys = ("from_change_ms", "from_cli_exit_ms", "from_cli_start_ms", "cli_runtime_ms")
    for key in keys:
        summary[f"propagation_{key}_median"] = bl.median([p[key] for p in prop])
    summary["propagation_from_change_ms_max"] = max(p["from_change_ms"] for p in prop)
    bl.print_table(
        f"Propagation: POP3 session closed after `mailgate account compromise` in another "
        f"process, median of {len(prop)} runs (mailgate only: no reference; Exchange Online "
        "documents up to 24 h; target < 1000 ms, aim 250 ms)",
        ["measured from", "median ms", "max ms"],
        [["the change (event row timestamp)", summary["propagation_from_change_ms_median"],
          summary["propagation_from_change_ms_max"]],
         ["the CLI's exit", summary["propagation_from_cli_exit_ms_median"],
          max(p["from_cli_exit_ms"] for p in prop)],
         ["the CLI's start (includes its start-up)",
          summary["propagation_from_cli_start_ms_median"],
          max(p["from_cli_start_ms"] for p in prop)],
         ["(CLI run time, start to exit)", summary["propagation_cli_runtime_ms_median"],
          max(p["cli_runtime_ms"] for p in prop)]])
    if any(result["errors"].values()):
        print(f"\nfailed sign-ins: {result['errors']}")
    bl.write_results("signin", {"quick": a.quick, "clients": a.clients, "rounds": a.rounds,
                                "warm_seconds": a.seconds, "cold_users_per_round": a.cold_users,
                                "better": "higher ratio (sign-ins per second)",
                                "summary": summary, "raw": result})


if __name__ == "__main__":
    main()

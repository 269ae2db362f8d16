"""IMAP LOGIN rate, 10 concurrent clients, cold and warm, vs Dovecot (IMAP issue).

One sign-in = connect on loopback, read the greeting, `LOGIN user password`, `LOGOUT` (its
BYE and tagged OK read), close: against `mailgate serve` (imap listener only) and
dovecot-reference's imap (passwd-file, {ARGON2ID} at mailgate's production cost, m=65536 KiB
t=3 p=1, auth cache on). Both servers run at once; rounds alternate which goes first.

  warm  every client signs in as its own user (user1..user10) again and again for a fixed
        time, after one priming sign-in each: mailgate's verified-credential cache answers
        without argon2id; Dovecot's auth cache keeps the hash, so it still verifies argon2id.
  cold  first sign-in of fresh users (a new slice of users every round, each signs in once,
        10 at a time): one argon2id verification each, on both servers.

Prints sign-ins per second (median of the rounds) and the ratio mailgate/Dovecot (higher is
better; targets: cold >= 1.0, warm >= 10).

    .venv/bin/python bench/imap_login.py [--quick] [--rounds R] [--clients C]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

TARGETS = {"warm": 10.0, "cold": 1.0}


def users(first: int, count: int) -> list[str]:
    return [f"user{i}@{bl.DOMAIN}" for i in range(first, first + count)]


async def imap_sign_in(port: int, user: str) -> None:
    """LOGIN, then LOGOUT."""
    client = await bl.ImapClient.connect(port, timeout=120)
    try:
        await client.login(user)
    except BaseException:
        await client.close()
        raise
    await client.logout()


async def run(a: argparse.Namespace, mg: bl.MailgateServer, dv: bl.DovecotReference,
              warm_users: list[str], cold_users: list[str]) -> dict:
    servers = {name: functools.partial(imap_sign_in, port)
               for name, port in (("mailgate", mg.imap), ("dovecot", dv.imap))}
    return await bl.sign_in_rounds(servers, warm_users, cold_users, rounds=a.rounds,
                                   clients=a.clients, seconds=a.seconds,
                                   cold_per_round=a.cold_users)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 short rounds")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--clients", type=int, default=10, help="concurrent IMAP clients")
    ap.add_argument("--seconds", type=float, default=None, help="length of a warm round")
    ap.add_argument("--cold-users", type=int, default=None, help="fresh users per cold round")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    a.rounds = a.rounds or (2 if a.quick else 5)
    a.seconds = a.seconds or (2.0 if a.quick else 6.0)
    a.cold_users = a.cold_users or (a.clients if a.quick else 4 * a.clients)
    bl.raise_nofile()

    warm_users = users(1, a.clients)
    cold_users = users(a.clients + 1, a.rounds * a.cold_users)
    with bl.workspace("imap-login", a.keep) as work:
        data = work / "mailgate"
        bl.mg_init(data)
        bl.bulk_accounts(data, warm_users + cold_users, pop=False)
        mg = bl.MailgateServer(data, listeners=("imap",))
        dv = bl.DovecotReference(work / "dovecot", users=len(warm_users) + len(cold_users))
        try:
            mg.start()
            dv.start()
            result = asyncio.run(run(a, mg, dv, warm_users, cold_users))
        except Exception:
            print(f"mailgate serve log tail:\n{mg.log_tail()}", file=sys.stderr)
            raise
        finally:
            mg.stop()
            dv.stop()

    rows, summary = [], {}
    for kind in ("warm", "cold"):
        m = bl.median(result[kind]["mailgate"])
        d = bl.median(result[kind]["dovecot"])
        summary[kind] = {"mailgate_per_sec": m, "dovecot_per_sec": d, "ratio": bl.ratio(m, d),
                         "target": TARGETS[kind]}
        rows.append([f"{kind} cache", m, d, bl.ratio(m, d), f">= {TARGETS[kind]:g}"])
    bl.print_table(
        f"IMAP sign-ins per second (LOGIN+LOGOUT, {a.clients} concurrent clients, argon2id "
        f"m=65536 t=3 p=1 on both), median of {a.rounds} rounds; higher is better",
        ["", "mailgate/s", "dovecot/s", "mailgate/dovecot", "target"], rows)
    if any(result["errors"].values()):
        print(f"\nfailed sign-ins: {result['errors']}")
    bl.write_results("imap_login", {"quick": a.quick, "clients": a.clients, "rounds": a.rounds,
                                    "warm_seconds": a.seconds,
                                    "cold_users_per_round": a.cold_users,
                                    "better": "higher ratio (sign-ins per second)",
                                    "summary": summary, "raw": result})


if __name__ == "__main__":
    main()

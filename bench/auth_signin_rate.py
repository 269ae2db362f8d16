"""Sign-ins per second per door with OAUTHBEARER vs Dovecot's password rate (issue 9).

20 concurrent clients on loopback, each signing in and out again and again for a fixed time:

  mailgate imap   AUTHENTICATE OAUTHBEARER (SASL-IR) + LOGOUT
  mailgate pop3   AUTH OAUTHBEARER + QUIT
  mailgate smtp   EHLO, AUTH OAUTHBEARER + QUIT on the submission listener
                  (each client its own account and token for the three doors, issued before
                  the server starts; every sign-in validates the token again: RS256, claims,
                  account, policy, revocation; there is no token cache)
  dovecot cold    IMAP LOGIN + LOGOUT, first sign-in of fresh users (one argon2id each at the
                  same cost as mailgate's production default, m=65536 KiB t=3 p=1)
  dovecot warm    IMAP LOGIN + LOGOUT of the same 20 users again and again (auth cache on:
                  no argon2id), for information

Rounds alternate which server goes first. Prints the median rate of each and the ratio to
Dovecot's cold rate (higher is better; target: OAUTHBEARER >= 10 x Dovecot's password rate).

    .venv/bin/python bench/auth_signin_rate.py [--quick] [--rounds R] [--clients C]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

TIMEOUT = 60.0


async def imap_oauth(port: int, tokens: dict[str, str], user: str) -> None:
    client = await bl.ImapClient.connect(port, timeout=TIMEOUT)
    try:
        await client.command(f"AUTHENTICATE OAUTHBEARER {bl.bearer(user, tokens[user])}")
        await client.command("LOGOUT")
    finally:
        await client.close()


async def imap_password(port: int, user: str) -> None:
    client = await bl.ImapClient.connect(port, timeout=TIMEOUT)
    try:
        await client.login(user)
        await client.command("LOGOUT")
    finally:
        await client.close()


async def pop3_oauth(port: int, tokens: dict[str, str], user: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(TIMEOUT):
            for send in (None, f"AUTH OAUTHBEARER {bl.bearer(user, tokens[user])}", "QUIT"):
                if send is not None:
                    writer.write(send.encode() + b"\r\n")
                line = await reader.readline()
                if not line.startswith(b"+OK"):
                    raise bl.Pop3Error(line.decode(errors="replace").strip() or "closed")
    finally:
        writer.close()


async def smtp_oauth(port: int, tokens: dict[str, str], user: str) -> None:
    reader, writer = await bl.smtp_oauthbearer(port, user, tokens[user], TIMEOUT)
    try:
        async with asyncio.timeout(TIMEOUT):
            writer.write(b"QUIT\r\n")
            await bl.smtp_reply(reader, b"221")
    finally:
        writer.close()


def issue_tokens(data: Path, users: list[str]) -> dict[str, str]:
    from mailgate.directory import tokens
    from mailgate.directory.authority import Actor
    from mailgate.service import Service

    svc = Service.open(data)
    try:
        return {u: tokens.issue(svc, Actor.system(), u, ["imap", "pop", "smtp"]).token
                for u in users}
    finally:
        svc.dispose()


async def run(a: argparse.Namespace, mg: bl.MailgateServer, dv: bl.DovecotReference,
              tokens: dict[str, str], warm: list[str], cold: list[str]) -> dict:
    sides = {"mailgate imap": functools.partial(imap_oauth, mg.imap, tokens),
             "mailgate pop3": functools.partial(pop3_oauth, mg.pop3, tokens),
             "mailgate smtp": functools.partial(smtp_oauth, mg.ports["submission"], tokens),
             "dovecot warm": functools.partial(imap_password, dv.imap)}
    cold_sign_in = functools.partial(imap_password, dv.imap)
    _, primed = await bl.cold_round(sides["dovecot warm"], warm, a.clients)
    if primed.errors:
        raise RuntimeError(f"dovecot: priming failed: {primed.errors}")
    rates: dict[str, list[float]] = {name: [] for name in [*sides, "dovecot cold"]}
    errors: dict[str, dict[str, int]] = {name: {} for name in rates}
    for r in range(a.rounds):
        order = [*sides, "dovecot cold"]
        if r % 2:
            order.reverse()
        for name in order:
            if name == "dovecot cold":
                batch = cold[r * a.cold_users:(r + 1) * a.cold_users]
                rate, tally = await bl.cold_round(cold_sign_in, batch, a.clients)
            else:
                rate, tally = await bl.warm_round(sides[name], warm, a.seconds)
            rates[name].append(rate)
            for err, n in tally.errors.items():
                errors[name][err] = errors[name].get(err, 0) + n
            bad = f", {sum(tally.errors.values())} failed" if tally.errors else ""
            print(f"round {r + 1}/{a.rounds}: {name:<14} {rate:8.1f} sign-ins/s "
                  f"({tally.ok} ok{bad})", flush=True)
    return {"rates": rates, "errors": errors}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 short rounds")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=None, help="length of a timed round")
    ap.add_argument("--cold-users", type=int, default=None, help="fresh users per cold round")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    a.rounds = a.rounds or (2 if a.quick else 5)
    a.seconds = a.seconds or (2.0 if a.quick else 6.0)
    a.cold_users = a.cold_users or (a.clients if a.quick else 3 * a.clients)
    bl.raise_nofile()
    warm = [f"user{i}@{bl.DOMAIN}" for i in range(1, a.clients + 1)]
    cold = [f"user{i}@{bl.DOMAIN}" for i in range(a.clients + 1,
                                                  a.clients + 1 + a.rounds * a.cold_users)]

    with bl.workspace("auth_signin_rate", a.keep) as work:
        data = work / "mailgate"
        bl.mg_init(data)
        bl.bulk_accounts(data, warm)
        tokens = issue_tokens(data, warm)
        mg = bl.MailgateServer(data, listeners=("imap", "pop3", "submission"))
        dv = bl.DovecotReference(work / "dovecot", users=a.clients + len(cold))
        try:
            mg.start()
            dv.start()
            result = asyncio.run(run(a, mg, dv, tokens, warm, cold))
        except Exception:
            print(f"mailgate serve log tail:\n{mg.log_tail()}", file=sys.stderr)
            raise
        finally:
            mg.stop()
            dv.stop()

    rates = result["rates"]
    cold_rate = bl.median(rates["dovecot cold"])
    summary = {f"{name.replace(' ', '_')}_per_sec": bl.median(v) for name, v in rates.items()}
    rows = []
    for name in rates:
        m = bl.median(rates[name])
        summary[f"{name.replace(' ', '_')}_over_dovecot_cold"] = bl.ratio(m, cold_rate)
        rows.append([name, m, bl.ratio(m, cold_rate)])
    bl.print_table(
        f"Sign-ins per second, {a.clients} concurrent clients, median of {a.rounds} rounds: "
        "mailgate with OAUTHBEARER per door, Dovecot IMAP with a password (argon2id m=65536 "
        "t=3 p=1); higher is better, target mailgate >= 10 x dovecot cold",
        ["", "sign-ins/s", "/ dovecot cold"], rows)
    if any(result["errors"].values()):
        print(f"\nfailed sign-ins: {result['errors']}")
    bl.write_results("auth_signin_rate", {
        "quick": a.quick, "clients": a.clients, "rounds": a.rounds, "seconds": a.seconds,
        "cold_users_per_round": a.cold_users, "better": "higher (sign-ins per second)",
        "summary": summary, "raw": result})


if __name__ == "__main__":
    main()

"""LMTP delivery of 10 000 messages of 10 KB from Postfix's smtp-source, vs Dovecot's LMTP
(SMTP issue).

One round per server: `smtp-source -L -d -s SESSIONS -m COUNT -l 10240` (SESSIONS parallel
connections, each sending its messages one after the other, one recipient each) into
`mailgate serve` (lmtp listener only) and into dovecot-reference's LMTP (Maildir,
`mail_fsync = optimized`: each message file fsynced before its 250). mailgate answers 250
after the message file and its directory are fsynced and the row is committed (SQLite WAL,
synchronous=FULL): durable on both. Time = smtp-source's start to its exit; afterwards the
recipient's INBOX is counted on both sides (every message must be there). Every round goes
to a fresh recipient (userR), so both mailboxes grow alike. Rounds alternate which server
goes first.

Prints messages per second (median of the rounds) and the ratio mailgate/Dovecot (higher is
better; target >= 1.0).

    .venv/bin/python bench/smtp_lmtp.py [--quick] [--count N] [--rounds R] [--sessions S]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl
import mailflow as mf


def recipient(round_no: int) -> str:
    return f"user{round_no}@{bl.DOMAIN}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 300 messages, 2 rounds")
    ap.add_argument("--count", type=int, default=None, help="messages per round")
    ap.add_argument("--size", type=int, default=10240, help="payload octets per message")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--sessions", type=int, default=10, help="parallel LMTP connections")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    count = a.count or (300 if a.quick else 10_000)
    rounds = a.rounds or (2 if a.quick else 3)
    mf.need_postfix()

    runs: dict[str, list[float]] = {"mailgate": [], "dovecot": []}
    with bl.workspace("smtp-lmtp", a.keep) as work:
        data = work / "mailgate"
        bl.mg_init(data)
        bl.bulk_accounts(data, [recipient(r + 1) for r in range(rounds)], pop=False)
        mg = bl.MailgateServer(data, listeners=("lmtp",))
        dv = bl.DovecotReference(work / "dovecot", users=rounds)
        counted = {"mailgate": lambda to: mf.mailgate_count(data, to),
                   "dovecot": lambda to: mf.dovecot_count(dv, to)}
        try:
            mg.start()
            dv.start()
            bl.wait_port(dv.lmtp, 30)
            ports = {"mailgate": mg.ports["lmtp"], "dovecot": dv.lmtp}
            for r in range(rounds):
                to = recipient(r + 1)
                for name in (list(ports) if r % 2 == 0 else list(ports)[::-1]):
                    got = mf.smtp_source(ports[name], messages=count, size=a.size,
                                         sessions=a.sessions, to=to, lmtp=True)
                    stored = counted[name](to)
                    if stored != count:
                        raise RuntimeError(f"{name}: {stored} of {count} messages stored")
                    runs[name].append(count / got.seconds)
                    print(f"round {r + 1}/{rounds}: {name:<8} {count / got.seconds:7.1f} "
                          f"messages/s ({got.seconds:.1f}s)", flush=True)
        except Exception:
            print(f"mailgate serve log tail:\n{mg.log_tail()}", file=sys.stderr)
            raise
        finally:
            mg.stop()
            dv.stop()

    m, d = bl.median(runs["mailgate"]), bl.median(runs["dovecot"])
    bl.print_table(
        f"LMTP delivery, smtp-source: {count} messages of {a.size} octets, {a.sessions} "
        f"connections, durable on both; median of {rounds} rounds; higher is better",
        ["", "mailgate", "dovecot", "mailgate/dovecot", "target"],
        [["messages/s", m, d, bl.ratio(m, d), ">= 1.0"]])
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bl.write_results("smtp_lmtp", {
        "quick": a.quick, "messages": count, "size": a.size, "sessions": a.sessions,
        "rounds": rounds, "better": "higher ratio (messages per second)",
        "load_average": os.getloadavg(),
        "summary": {"mailgate_per_sec": m, "dovecot_per_sec": d, "ratio": bl.ratio(m, d),
                    "target": 1.0},
        "raw": runs})


if __name__ == "__main__":
    main()

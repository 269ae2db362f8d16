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
better; target >= 1.0), and the CPU time (user + system, and user alone) each server spent
per message: mailgate's one `serve` process, Dovecot's master and every process under it.
A third side, aiosmtpd's own LMTP answering 250 and storing nothing (one Python process, no
fsync), shows the ceiling of the library mailgate's LMTP door is built on.

    .venv/bin/python bench/smtp_lmtp.py [--quick] [--count N] [--rounds R] [--sessions S]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl
import mailflow as mf

SIDES = ("mailgate", "dovecot", "aiosmtpd")
# aiosmtpd's LMTP with a handler that answers 250 for every recipient and stores nothing:
# the ceiling of the protocol library mailgate's LMTP door is built on
BARE_LMTP = """
import asyncio, sys
from aiosmtpd.lmtp import LMTP

class Accept:
    async def handle_DATA(self, server, session, envelope):
        return "\\r\\n".join("250 2.0.0 ok" for _ in envelope.rcpt_tos)

async def main(port):
    server = await asyncio.get_running_loop().create_server(
        lambda: LMTP(Accept()), "127.0.0.1", port)
    await server.serve_forever()

asyncio.run(main(int(sys.argv[1])))
"""


def main() -> None:
    options = mf.Options(__doc__, messages="count", messages_help="messages per round",
                         quick=300, full=10_000)
    options.add("--sessions", type=int, default=10, help="parallel LMTP connections")
    a, count, rounds = options.parse()

    runs: dict[str, list[float]] = {name: [] for name in SIDES}
    cpu: dict[str, list[float]] = {name: [] for name in SIDES}  # ms per message
    user: dict[str, list[float]] = {name: [] for name in SIDES}  # of it, user time
    with bl.workspace("smtp-lmtp", a.keep) as work:
        data = work / "mailgate"
        bl.mg_init(data)
        bl.bulk_accounts(data, [mf.user(r + 1) for r in range(rounds)], pop=False)
        mg = bl.MailgateServer(data, listeners=("lmtp",))
        dv = bl.DovecotReference(work / "dovecot", users=rounds)
        counted = {"mailgate": lambda to: mf.mailgate_count(data, to),
                   "dovecot": lambda to: mf.dovecot_count(dv, to),
                   "aiosmtpd": lambda to: count}  # stores nothing
        bare_port = bl.free_port()
        bare = subprocess.Popen([sys.executable, "-c", BARE_LMTP, str(bare_port)])
        try:
            mg.start()
            dv.start()
            bl.wait_port(dv.lmtp, 30)
            bl.wait_port(bare_port, 30, bare)
            ports = {"mailgate": mg.ports["lmtp"], "dovecot": dv.lmtp, "aiosmtpd": bare_port}
            roots = {"mailgate": mg.pid, "dovecot": dv.master_pid or 0, "aiosmtpd": bare.pid}
            for r in range(rounds):
                to = mf.user(r + 1)
                for name in (list(ports) if r % 2 == 0 else list(ports)[::-1]):
                    before = bl.cpu_times(roots[name])
                    got = mf.smtp_source(ports[name], messages=count, size=a.size,
                                         sessions=a.sessions, to=to, lmtp=True)
                    after = bl.cpu_times(roots[name])
                    cpu[name].append(1000 * (after.total - before.total) / count)
                    user[name].append(1000 * (after.user - before.user) / count)
                    stored = counted[name](to)
                    if stored != count:
                        raise RuntimeError(f"{name}: {stored} of {count} messages stored")
                    runs[name].append(count / got.seconds)
                    print(f"round {r + 1}/{rounds}: {name:<8} {count / got.seconds:7.1f} "
                          f"messages/s ({got.seconds:.1f}s, {cpu[name][-1]:.2f} ms of CPU per "
                          "message)", flush=True)
        except Exception:
            print(f"mailgate serve log tail:\n{mg.log_tail()}", file=sys.stderr)
            raise
        finally:
            mg.stop()
            dv.stop()
            bare.terminate()
            bare.wait(30)

    m, d = bl.median(runs["mailgate"]), bl.median(runs["dovecot"])
    mc, dc = bl.median(cpu["mailgate"]), bl.median(cpu["dovecot"])
    mu, du = bl.median(user["mailgate"]), bl.median(user["dovecot"])
    b, bc, bu = (bl.median(x["aiosmtpd"]) for x in (runs, cpu, user))
    bl.print_table(
        f"LMTP delivery, smtp-source: {count} messages of {a.size} octets, {a.sessions} "
        f"connections, durable on both; median of {rounds} rounds; higher is better",
        ["", "mailgate", "dovecot", "mailgate/dovecot", "target", "aiosmtpd alone"],
        [["messages/s", m, d, bl.ratio(m, d), ">= 1.0", b],
         ["server CPU ms per message", mc, dc, bl.ratio(mc, dc), "(lower is better)", bc],
         ["  of it user time", mu, du, bl.ratio(mu, du), "(lower is better)", bu]])
    print("aiosmtpd alone: its LMTP answering 250 and storing nothing, the ceiling of the "
          "library mailgate's door is built on")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bl.write_results("smtp_lmtp", {
        "quick": a.quick, "messages": count, "size": a.size, "sessions": a.sessions,
        "rounds": rounds, "better": "higher ratio (messages per second)",
        "load_average": os.getloadavg(),
        "summary": {"mailgate_per_sec": m, "dovecot_per_sec": d, "ratio": bl.ratio(m, d),
                    "target": 1.0, "mailgate_cpu_ms_per_message": mc,
                    "dovecot_cpu_ms_per_message": dc, "mailgate_user_ms_per_message": mu,
                    "dovecot_user_ms_per_message": du, "aiosmtpd_alone_per_sec": b,
                    "aiosmtpd_alone_cpu_ms_per_message": bc,
                    "aiosmtpd_alone_user_ms_per_message": bu},
        "raw": runs, "raw_cpu_ms_per_message": cpu, "raw_user_ms_per_message": user})


if __name__ == "__main__":
    main()

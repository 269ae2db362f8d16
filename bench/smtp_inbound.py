"""Inbound SMTP of 10 000 messages of 10 KB from Postfix's smtp-source, as a fraction of
Postfix's smtp-sink (SMTP issue).

One round per server: `smtp-source -d -s SESSIONS -m COUNT -l 10240` (SESSIONS parallel
connections, each sending its messages one after the other, one recipient each, from an
outside sender) into `mailgate serve` (smtp listener only: SPF, DKIM and DMARC checked for
every message against an empty loopback DNS server that answers NXDOMAIN at once, an
Authentication-Results header added, the message fsynced and committed before 250) and into
`smtp-sink`, which answers every command and stores nothing: the ceiling of this client on
this machine. Time = smtp-source's start to its exit; afterwards mailgate's INBOX of the
round's recipient (a fresh userR each round) is counted. Rounds alternate which goes first.

Prints messages per second (median of the rounds) and mailgate's fraction of the ceiling
(higher is better; no target: the sink does none of the work).

    .venv/bin/python bench/smtp_inbound.py [--quick] [--count N] [--rounds R] [--sessions S]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl
import mailflow as mf


def main() -> None:
    options = mf.Options(__doc__, messages="count", messages_help="messages per round",
                         quick=300, full=10_000)
    options.add("--sessions", type=int, default=10, help="parallel SMTP connections")
    a, count, rounds = options.parse()

    runs: dict[str, list[float]] = {"mailgate": [], "smtp-sink": []}
    dns = mf.empty_dns()
    os.environ["MAILGATE_SERVER_NAMESERVERS"] = dns.address
    with bl.workspace("smtp-inbound", a.keep) as work:
        data = work / "mailgate"
        bl.mg_init(data)
        bl.bulk_accounts(data, [mf.user(r + 1) for r in range(rounds)], pop=False)
        mg = bl.MailgateServer(data, listeners=("smtp",))
        sink = mf.SmtpSink()
        try:
            mg.start()
            sink.start()
            ports = {"mailgate": mg.ports["smtp"], "smtp-sink": sink.port}
            for r in range(rounds):
                to = mf.user(r + 1)
                for name in (list(ports) if r % 2 == 0 else list(ports)[::-1]):
                    got = mf.smtp_source(ports[name], messages=count, size=a.size,
                                         sessions=a.sessions, to=to)
                    if name == "mailgate" and (stored := mf.mailgate_count(data, to)) != count:
                        raise RuntimeError(f"mailgate: {stored} of {count} messages stored")
                    runs[name].append(count / got.seconds)
                    print(f"round {r + 1}/{rounds}: {name:<9} {count / got.seconds:7.1f} "
                          f"messages/s ({got.seconds:.1f}s)", flush=True)
        except Exception:
            print(f"mailgate serve log tail:\n{mg.log_tail()}", file=sys.stderr)
            raise
        finally:
            mg.stop()
            sink.stop()
            dns.close()

    m, s = bl.median(runs["mailgate"]), bl.median(runs["smtp-sink"])
    bl.print_table(
        f"Inbound SMTP, smtp-source: {count} messages of {a.size} octets, {a.sessions} "
        f"connections; mailgate durable, smtp-sink stores nothing; median of {rounds} rounds",
        ["", "mailgate", "smtp-sink", "fraction of the ceiling"],
        [["messages/s", m, s, bl.ratio(m, s)]])
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bl.write_results("smtp_inbound", {
        "quick": a.quick, "messages": count, "size": a.size, "sessions": a.sessions,
        "rounds": rounds, "better": "higher fraction of the ceiling",
        "load_average": os.getloadavg(),
        "summary": {"mailgate_per_sec": m, "smtp_sink_per_sec": s, "fraction": bl.ratio(m, s)},
        "raw": runs})


if __name__ == "__main__":
    main()

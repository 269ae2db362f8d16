"""IMAP APPEND of 1 000 messages, durable on both sides, vs Dovecot (IMAP issue).

The messages: make-corpus --count 1000 --eml-dir (mixed 2-200 KB, real MIME, CRLF). One pass
= a new connection, LOGIN and `CREATE` of a fresh folder (not timed), then timed: one
`APPEND "folder" {N+}` (LITERAL+, which both servers offer) per message, each waiting for
its tagged OK before the next, as a mail client moving mail in does; afterwards `STATUS
folder (MESSAGES)` (not timed) checks that every message arrived. Every pass adds an
`X-Bench-Pass: N` header line on top of each message, so no pass appends bytes a server has
stored before (mailgate stores content-addressed blobs: a repeat would skip its writes).

Durability: an APPEND's OK comes after the message is on disk on both sides. mailgate fsyncs
the blob file and its directory, then commits the row (SQLite WAL, synchronous=FULL);
Dovecot (dovecot-reference: Maildir, `mail_fsync = optimized`, its default) fsyncs each
message file before renaming it into the folder. One untimed pass of 50 messages first
(processes, caches). Rounds alternate which server goes first.

Prints messages per second and MB/s (median of the rounds) and the ratio mailgate/Dovecot
(higher is better; target >= 1.0), and the CPU time (user + system) each server spent per
message: mailgate's one `serve` process, Dovecot's master and every process under it.

    .venv/bin/python bench/imap_append.py [--quick] [--count N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

USER = f"user1@{bl.DOMAIN}"
WARM_UP = 50


async def append_pass(port: int, folder: str, messages: list[bytes], tag: int,
                      server: int = 0) -> dict[str, float]:
    """CREATE folder, then the timed APPENDs; seconds, octets sent and the CPU time the
    server's processes (`server`: the root pid) spent on them."""
    stamp = f"X-Bench-Pass: {tag}\r\n".encode()
    payloads = [stamp + message for message in messages]
    client = await bl.ImapClient.connect(port, timeout=600)
    try:
        await client.login(USER)
        await client.command(f"CREATE {bl.imap_quote(folder)}")
        cpu = bl.cpu_times(server).total
        t0 = time.perf_counter()
        for payload in payloads:
            await client.append(folder, payload)
        elapsed = time.perf_counter() - t0
        cpu = bl.cpu_times(server).total - cpu
        status = await client.command(f"STATUS {bl.imap_quote(folder)} (MESSAGES)")
        await client.logout()
    finally:
        await client.close()
    line = b" ".join(status.untagged)
    stored = int(line.rsplit(b"MESSAGES", 1)[1].strip(b" )\r\n").split()[0])
    if stored != len(payloads):
        raise RuntimeError(f"{folder}: {stored} messages stored, {len(payloads)} appended")
    return {"seconds": elapsed, "messages": len(payloads),
            "octets": sum(len(p) for p in payloads), "cpu_seconds": cpu}


def options(doc: str, rounds: int) -> tuple[argparse.Namespace, int, int]:
    """The command line of the APPEND benchmarks: (the options, messages, rounds), with
    `rounds` rounds of 1 000 messages unless --quick, --count or --rounds say otherwise."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 100 messages, 2 rounds")
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    return a, a.count or (100 if a.quick else 1000), a.rounds or (2 if a.quick else rounds)


def main() -> None:
    a, count, rounds = options(__doc__, rounds=5)

    with bl.workspace("imap-append", a.keep) as work:
        bl.make_corpus(work / "corpus", count, eml_dir=True)
        messages = [p.read_bytes() for p in sorted((work / "corpus").iterdir())]
        print(f"{len(messages)} messages, {sum(map(len, messages)) / 1e6:.1f} MB per pass")
        data = work / "mailgate"
        bl.mg_init(data)
        bl.mg_account(data, USER, pop=False)
        mg = bl.MailgateServer(data, listeners=("imap",))
        dv = bl.DovecotReference(work / "dovecot", users=1)
        ports = {"mailgate": lambda: mg.imap, "dovecot": lambda: dv.imap}
        roots = {"mailgate": lambda: mg.pid, "dovecot": lambda: dv.master_pid or 0}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in ports}
        passes = 0
        try:
            mg.start()
            dv.start()
            for port in ports.values():  # untimed
                passes += 1
                asyncio.run(append_pass(port(), "warm-up", messages[:WARM_UP], passes))
            for r in range(rounds):
                order = list(ports) if r % 2 == 0 else list(ports)[::-1]
                for name in order:
                    passes += 1
                    got = asyncio.run(append_pass(ports[name](), f"bench-{r + 1}", messages,
                                                  passes, roots[name]()))
                    runs[name].append(got)
                    print(f"round {r + 1}/{rounds}: {name:<8} "
                          f"{got['messages'] / got['seconds']:7.1f} messages/s "
                          f"({got['seconds']:.2f}s, "
                          f"{1000 * got['cpu_seconds'] / got['messages']:.2f} ms of CPU each)")
        except Exception:
            print(f"mailgate serve log tail:\n{mg.log_tail()}", file=sys.stderr)
            raise
        finally:
            mg.stop()
            dv.stop()

    rows, summary = [], {}
    for unit, field, scale in (("messages/s", "messages", 1.0), ("MB/s", "octets", 1e6)):
        rate = {name: bl.median([x[field] / scale / x["seconds"] for x in runs[name]])
                for name in ports}
        summary[unit] = {**rate, "ratio": bl.ratio(rate["mailgate"], rate["dovecot"])}
        rows.append([unit, rate["mailgate"], rate["dovecot"],
                     bl.ratio(rate["mailgate"], rate["dovecot"])])
    cpu = {name: bl.median([1000 * x["cpu_seconds"] / x["messages"] for x in runs[name]])
           for name in ports}
    summary["server CPU ms per message"] = {**cpu, "ratio": bl.ratio(cpu["mailgate"],
                                                                       cpu["dovecot"])}
    rows.append(["server CPU ms/message (lower is better)", cpu["mailgate"], cpu["dovecot"],
                 bl.ratio(cpu["mailgate"], cpu["dovecot"])])
    bl.print_table(
        f"IMAP APPEND of {count} messages one after the other (LITERAL+, durable on both), "
        f"median of {rounds} rounds; higher is better, target ratio >= 1.0",
        ["", "mailgate", "dovecot", "mailgate/dovecot"], rows)
    bl.write_results("imap_append", {
        "quick": a.quick, "messages": count, "rounds": rounds,
        "better": "higher ratio (messages per second)", "summary": summary, "raw": runs})


if __name__ == "__main__":
    main()

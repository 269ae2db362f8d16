"""IMAP FETCH of a whole 10 000-message INBOX, warm and cold, vs Dovecot (IMAP issue).

The mailbox: make-corpus --count 10000 --maildir --inbox-only (mixed 2-200 KB, real MIME).
mailgate gets it with `mailgate import user1@example.test MAILDIR` (which parses every
message once, at delivery); Dovecot gets the same Maildir as user1's mailbox
(dovecot-reference --maildir). One untimed pass on each server first: Dovecot builds its
index and cache then (that first pass's time is shown, for information).

One pass = a new connection, LOGIN (not timed), `SELECT INBOX` (timed on its own), then
timed from sending to the tagged OK:

    FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)

  warm  the server has run passes before; its files are in the page cache.
  cold  the server was just restarted (mailgate: `serve` stopped and started; Dovecot: its
        master and every process under it stopped, started again on the same instance),
        then every file of its data (mailgate's data directory; Dovecot's mail directory
        with its indexes) was written back and evicted from the page cache
        (POSIX_FADV_DONTNEED per file), after the server started, so the pass reads from
        the disk. Programs and libraries stay cached: no machine-wide drop_caches.

Rounds alternate which server goes first. Prints the median seconds of each and the speed
ratio dovecot/mailgate (higher is better; target >= 1.0, warm and cold).

    .venv/bin/python bench/imap_fetch.py [--quick] [--count N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

USER = f"user1@{bl.DOMAIN}"
ITEMS = "(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)"


async def fetch_pass(port: int) -> dict[str, float]:
    """Sign in, SELECT INBOX, FETCH 1:* ITEMS; the times of SELECT and FETCH."""
    client = await bl.ImapClient.connect(port, timeout=600)
    try:
        await client.login(USER)
        t0 = time.perf_counter()
        await client.command("SELECT INBOX")
        t1 = time.perf_counter()
        reply = await client.command(f"FETCH 1:* {ITEMS}")
        t2 = time.perf_counter()
    finally:
        await client.close()
    fetched = sum(1 for line in reply.untagged if b" FETCH (" in line[:24])
    return {"select_s": t1 - t0, "fetch_s": t2 - t1, "messages": fetched,
            "octets": reply.octets}


class Side:
    """One server under test: how to reach it, restart it and evict its data's pages."""

    def __init__(self, port: Callable[[], int], restart: Callable[[], None],
                 data: Callable[[], Path]) -> None:
        self.port = port
        self.restart = restart
        self.data = data

    def warm(self) -> dict[str, float]:
        return asyncio.run(fetch_pass(self.port()))

    def cold(self) -> dict[str, float]:
        self.restart()
        bl.drop_page_cache(self.data())
        return asyncio.run(fetch_pass(self.port()))


def restart_mailgate(server: bl.MailgateServer) -> None:
    server.stop()
    server.start()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 500 messages, 2 rounds")
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    count = a.count or (500 if a.quick else 10000)
    rounds = a.rounds or (2 if a.quick else 5)
    bl.need_mailgate_mime()

    with bl.workspace("imap-fetch", a.keep) as work:
        files, size, mg, (dv,) = bl.inbox_servers(work, count, USER)
        sides = {
            "mailgate": Side(lambda: mg.imap, lambda: restart_mailgate(mg), lambda: mg.data),
            "dovecot": Side(lambda: dv.imap, dv.restart, lambda: dv.mail),
        }
        runs: dict[str, dict[str, list[dict[str, float]]]] = {
            kind: {name: [] for name in sides} for kind in ("warm", "cold")}
        first: dict[str, dict[str, float]] = {}
        try:
            mg.start()
            dv.start()
            for name, side in sides.items():  # untimed: Dovecot builds its index and cache
                first[name] = side.warm()
                print(f"first pass {name}: {first[name]['messages']:.0f} messages, "
                      f"{first[name]['octets'] / 1e6:.1f} MB, FETCH "
                      f"{first[name]['fetch_s']:.2f}s")
                if first[name]["messages"] != files:
                    raise RuntimeError(f"{name} fetched {first[name]['messages']:.0f} "
                                       f"messages, expected {files}")
            for r in range(rounds):
                order = list(sides) if r % 2 == 0 else list(sides)[::-1]
                for kind in ("cold", "warm"):
                    for name in order:
                        got = getattr(sides[name], kind)()
                        if got["messages"] != files:
                            raise RuntimeError(f"{name}: {got['messages']:.0f} messages")
                        runs[kind][name].append(got)
                        print(f"round {r + 1}/{rounds}: {kind} {name:<8} SELECT "
                              f"{got['select_s']:.3f}s FETCH {got['fetch_s']:.3f}s")
        except Exception:
            print(f"mailgate serve log tail:\n{mg.log_tail()}", file=sys.stderr)
            raise
        finally:
            mg.stop()
            dv.stop()

    rows, summary = [], {}
    for kind in ("warm", "cold"):
        for step in ("fetch", "select"):
            m = bl.median([x[f"{step}_s"] for x in runs[kind]["mailgate"]])
            d = bl.median([x[f"{step}_s"] for x in runs[kind]["dovecot"]])
            key = f"{kind}_{step}"
            summary[key] = {"mailgate_s": m, "dovecot_s": d, "speed_ratio": bl.ratio(d, m)}
            rows.append([f"{kind} {step.upper()}", m, d, bl.ratio(d, m)])
    rows.append(["first pass FETCH (untimed warm-up)", first["mailgate"]["fetch_s"],
                 first["dovecot"]["fetch_s"],
                 bl.ratio(first["dovecot"]["fetch_s"], first["mailgate"]["fetch_s"])])
    bl.print_table(
        f"IMAP FETCH 1:* {ITEMS} of {files} messages, median of {rounds} rounds; seconds, "
        "lower is better; speed ratio = dovecot s / mailgate s, higher is better, "
        "target >= 1.0 (FETCH, warm and cold)",
        ["", "mailgate s", "dovecot s", "speed ratio"], rows)
    print(f"response size: mailgate {first['mailgate']['octets'] / 1e6:.2f} MB, "
          f"dovecot {first['dovecot']['octets'] / 1e6:.2f} MB")
    bl.write_results("imap_fetch", {
        "quick": a.quick, "messages": files, "corpus_bytes": size, "rounds": rounds,
        "items": ITEMS, "better": "higher speed_ratio", "summary": summary,
        "first_pass": first, "raw": runs})


if __name__ == "__main__":
    main()

"""IMAP `UID SEARCH TEXT "two words"` over a 10 000-message INBOX vs Dovecot (IMAP issue).

The same mailbox as imap_fetch.py (make-corpus --count 10000 --maildir --inbox-only, 480 MB;
mailgate: `mailgate import`, Dovecot: dovecot-reference --maildir). Dovecot runs as Debian
ships it: no full-text-search plugin, so TEXT reads and decodes every message (its default
full scan). Two phrases by default, each two words:

  "budget report"  two corpus words, found in about half of the messages
  "two words"      found nowhere: every octet of every message is read, no early exit

One pass = a new connection, LOGIN and SELECT INBOX (not timed), then timed from sending to
the tagged answer: `UID SEARCH TEXT "<phrase>"`. One untimed pass per phrase and server
first (both then read from the page cache). Rounds alternate which server goes first.

A server that answers NO (mailgate before its full-text index lands: `NO [CANNOT] TEXT
search is not available yet`) is reported with its answer instead of a time. Prints the
median seconds and the speed ratio dovecot/mailgate (higher is better; target >= 10), and
the number of UIDs each found.

    .venv/bin/python bench/imap_search.py [--quick] [--count N] [--rounds R]
        [--phrase "two words" ...]
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
PHRASES = ("budget report", "two words")


async def search_pass(port: int, phrase: str) -> dict:
    """Sign in, SELECT INBOX, then the timed UID SEARCH TEXT; its time, status and hits."""
    client = await bl.ImapClient.connect(port, timeout=600)
    try:
        await client.login(USER)
        await client.command("SELECT INBOX")
        t0 = time.perf_counter()
        reply = await client.command(f"UID SEARCH TEXT {bl.imap_quote(phrase)}", check=False)
        elapsed = time.perf_counter() - t0
    finally:
        await client.close()
    found = [line for line in reply.untagged if line.startswith(b"* SEARCH")]
    hits = len(found[0].split()) - 2 if found else 0
    return {"seconds": elapsed, "status": reply.status,
            "answer": f"{reply.status} {reply.text}", "hits": hits}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 500 messages, 2 rounds")
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--phrase", action="append", default=None,
                    help=f"a phrase to search for (repeatable; default {PHRASES})")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    count = a.count or (500 if a.quick else 10000)
    rounds = a.rounds or (2 if a.quick else 5)
    phrases = a.phrase or list(PHRASES)
    bl.need_mailgate_mime()

    with bl.workspace("imap-search", a.keep) as work:
        files, size, mg, dv = bl.inbox_servers(work, count, USER)
        ports = {"mailgate": lambda: mg.imap, "dovecot": lambda: dv.imap}
        runs: dict[str, dict[str, list[dict]]] = {p: {s: [] for s in ports} for p in phrases}
        try:
            mg.start()
            dv.start()
            for phrase in phrases:
                for name, port in ports.items():  # untimed: page cache, Dovecot's index
                    got = asyncio.run(search_pass(port(), phrase))
                    print(f"first pass {name:<8} {phrase!r}: {got['answer'][:70]}, "
                          f"{got['hits']} hits, {got['seconds']:.2f}s")
            for r in range(rounds):
                order = list(ports) if r % 2 == 0 else list(ports)[::-1]
                for phrase in phrases:
                    for name in order:
                        got = asyncio.run(search_pass(ports[name](), phrase))
                        runs[phrase][name].append(got)
                        print(f"round {r + 1}/{rounds}: {name:<8} {phrase!r}: {got['status']}, "
                              f"{got['hits']} hits, {got['seconds']:.3f}s")
        except Exception:
            print(f"mailgate serve log tail:\n{mg.log_tail()}", file=sys.stderr)
            raise
        finally:
            mg.stop()
            dv.stop()

    rows, summary, notes = [], {}, []
    for phrase in phrases:
        result = {}
        for name in ports:
            done = [x for x in runs[phrase][name] if x["status"] == "OK"]
            result[name] = {
                "seconds": bl.median([x["seconds"] for x in done]),
                "hits": done[-1]["hits"] if done else None,
                "answers": sorted({x["answer"] for x in runs[phrase][name]})}
            if not done:
                notes.append(f"{name} did not search {phrase!r}: "
                             f"{'; '.join(result[name]['answers'])}")
        m, d = result["mailgate"]["seconds"], result["dovecot"]["seconds"]
        result["speed_ratio"] = bl.ratio(d, m)
        summary[phrase] = result
        hits = "/".join(str(result[n]["hits"]) if result[n]["hits"] is not None else "-"
                        for n in ports)
        rows.append([f'TEXT "{phrase}"', m, d, bl.ratio(d, m), hits])
    bl.print_table(
        f"IMAP UID SEARCH TEXT over {files} messages ({size / 1e6:.0f} MB), median of {rounds} "
        "rounds; seconds, lower is better; speed ratio = dovecot s / mailgate s, higher is "
        "better, target >= 10 (Dovecot: default full scan, no FTS plugin)",
        ["", "mailgate s", "dovecot s", "speed ratio", "hits mailgate/dovecot"], rows)
    for note in notes:
        print(f"note: {note}")
    bl.write_results("imap_search", {
        "quick": a.quick, "messages": files, "corpus_bytes": size, "rounds": rounds,
        "phrases": phrases, "better": "higher speed_ratio", "summary": summary,
        "raw": runs})


if __name__ == "__main__":
    main()

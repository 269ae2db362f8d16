"""IMAP `UID SEARCH TEXT "two words"` over a 10 000-message INBOX vs Dovecot (IMAP issue).

The same mailbox as imap_fetch.py (make-corpus --count 10000 --maildir --inbox-only, 480 MB;
mailgate: `mailgate import`, Dovecot: dovecot-reference --maildir). Two Dovecot instances,
each with its own copy of the mail:

  dovecot         as Debian ships it: no full-text-search plugin, so TEXT reads and decodes
                  every message (its default full scan); target: mailgate >= 10x as fast
  dovecot+xapian  Debian's dovecot-fts-xapian plugin (installed with apt-get if missing;
                  skipped, with a note, when the archive has no such package, or with
                  --no-xapian): `mail_plugins = fts fts_xapian`, `fts = xapian`,
                  `fts_xapian = partial=3 full=20`, `fts_enforced = yes` (a search never
                  falls back to a scan), and the INBOX indexed with `doveadm index` before
                  any timing (its time shown for information); target: mailgate >= 1.0x

Two phrases by default, each two words:

  "budget report"  two corpus words, found in about half of the messages
  "two words"      found nowhere: every octet of every message is read, no early exit

One pass = a new connection, LOGIN and SELECT INBOX (not timed), then timed from sending to
the tagged answer: `UID SEARCH TEXT "<phrase>"`. One untimed pass per phrase and server
first (all then read from the page cache). Rounds rotate which server goes first.

A server that answers NO is reported with its answer instead of a time. Prints the median
seconds and the speed ratio dovecot/mailgate of each Dovecot (higher is better), and the
number of UIDs each found.

    .venv/bin/python bench/imap_search.py [--quick] [--count N] [--rounds R]
        [--phrase "two words" ...] [--no-xapian]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

USER = f"user1@{bl.DOMAIN}"
PHRASES = ("budget report", "two words")
XAPIAN_PLUGIN = Path("/usr/lib/dovecot/modules/lib21_fts_xapian_plugin.so")
XAPIAN_SETTINGS = """
mail_plugins = $mail_plugins fts fts_xapian
plugin {
  fts = xapian
  fts_xapian = partial=3 full=20
  fts_autoindex = yes
  fts_enforced = yes
}
service indexer-worker {
  vsz_limit = 0
}
"""
TARGETS = {"dovecot": 10.0, "dovecot+xapian": 1.0}


def xapian_plugin() -> str | None:
    """None when Debian's dovecot-fts-xapian is usable (installed now if need be), else why
    not."""
    if XAPIAN_PLUGIN.is_file():
        return None
    known = subprocess.run(["apt-cache", "show", "dovecot-fts-xapian"], capture_output=True)
    if known.returncode != 0:
        return "Debian's archive here has no dovecot-fts-xapian package"
    setup = subprocess.run(["apt-get", "install", "-y", "-qq", "dovecot-fts-xapian"],
                           capture_output=True, text=True,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if setup.returncode != 0 or not XAPIAN_PLUGIN.is_file():
        return f"apt-get install dovecot-fts-xapian failed: {setup.stderr.strip()[-300:]}"
    return None


def index_with_xapian(dv: bl.DovecotReference) -> float:
    """Turn fts_xapian on for the instance, restart it, index the INBOX; seconds taken."""
    dv.reconfigure(XAPIAN_SETTINGS)
    t0 = time.perf_counter()
    subprocess.run(["doveadm", "-c", str(dv.conf), "index", "-u", USER, "INBOX"], check=True,
                   capture_output=True)
    return time.perf_counter() - t0


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
    ap.add_argument("--no-xapian", action="store_true",
                    help="only Dovecot's default full scan, no dovecot-fts-xapian instance")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    count = a.count or (500 if a.quick else 10000)
    rounds = a.rounds or (2 if a.quick else 5)
    phrases = a.phrase or list(PHRASES)
    bl.need_mailgate_mime()
    notes: list[str] = []
    no_xapian = "--no-xapian" if a.no_xapian else xapian_plugin()
    if no_xapian:
        notes.append(f"no dovecot+xapian side: {no_xapian}")
    dovecots = ["dovecot"] if no_xapian else ["dovecot", "dovecot+xapian"]

    with bl.workspace("imap-search", a.keep) as work:
        files, size, mg, refs = bl.inbox_servers(work, count, USER, dovecots)
        ports = {"mailgate": lambda: mg.imap,
                 **{name: (lambda dv=dv: dv.imap) for name, dv in zip(dovecots, refs, strict=True)}}
        runs: dict[str, dict[str, list[dict]]] = {p: {s: [] for s in ports} for p in phrases}
        index_s = None
        try:
            mg.start()
            for dv in refs:
                dv.start()
            if not no_xapian:
                index_s = index_with_xapian(refs[1])
                print(f"dovecot+xapian: INBOX indexed by `doveadm index` in {index_s:.1f}s")
            for phrase in phrases:
                for name, port in ports.items():  # untimed: page cache
                    got = asyncio.run(search_pass(port(), phrase))
                    print(f"first pass {name:<14} {phrase!r}: {got['answer'][:70]}, "
                          f"{got['hits']} hits, {got['seconds']:.2f}s")
            for r in range(rounds):
                order = list(ports)[r % len(ports):] + list(ports)[:r % len(ports)]
                for phrase in phrases:
                    for name in order:
                        got = asyncio.run(search_pass(ports[name](), phrase))
                        runs[phrase][name].append(got)
                        print(f"round {r + 1}/{rounds}: {name:<14} {phrase!r}: "
                              f"{got['status']}, {got['hits']} hits, {got['seconds']:.3f}s")
        except Exception:
            print(f"mailgate serve log tail:\n{mg.log_tail()}", file=sys.stderr)
            raise
        finally:
            mg.stop()
            for dv in refs:
                dv.stop()

    rows, summary = [], {}
    for phrase in phrases:
        result: dict = {}
        for name in ports:
            done = [x for x in runs[phrase][name] if x["status"] == "OK"]
            result[name] = {
                "seconds": bl.median([x["seconds"] for x in done]),
                "hits": done[-1]["hits"] if done else None,
                "answers": sorted({x["answer"] for x in runs[phrase][name]})}
            if not done:
                notes.append(f"{name} did not search {phrase!r}: "
                             f"{'; '.join(result[name]['answers'])}")
        m = result["mailgate"]["seconds"]
        hits = "/".join(str(result[n]["hits"]) if result[n]["hits"] is not None else "-"
                        for n in ports)
        for name in dovecots:
            d = result[name]["seconds"]
            result[f"speed_ratio_vs_{name}"] = bl.ratio(d, m)
            rows.append([f'TEXT "{phrase}"', name, m, d, bl.ratio(d, m), f">= {TARGETS[name]:g}",
                         hits])
        summary[phrase] = result
    bl.print_table(
        f"IMAP UID SEARCH TEXT over {files} messages ({size / 1e6:.0f} MB), median of {rounds} "
        "rounds; seconds, lower is better; speed ratio = dovecot s / mailgate s, higher is "
        "better",
        ["", "against", "mailgate s", "dovecot s", "speed ratio", "target",
         "hits " + "/".join(ports)], rows)
    for note in notes:
        print(f"note: {note}")
    bl.write_results("imap_search", {
        "quick": a.quick, "messages": files, "corpus_bytes": size, "rounds": rounds,
        "phrases": phrases, "better": "higher speed_ratio", "targets": TARGETS,
        "xapian_index_seconds": index_s, "notes": notes, "summary": summary, "raw": runs})


if __name__ == "__main__":
    main()

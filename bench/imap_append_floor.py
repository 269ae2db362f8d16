"""Where an APPEND's time goes, against Dovecot's whole APPEND (IMAP issue, APPEND target).

Same data as bench/imap_append.py (make-corpus --eml-dir, mixed 2-200 KB). Dovecot
(dovecot-reference) gets the messages as there: one connection, one LITERAL+ APPEND after the
other, timed per pass. mailgate's store gets the same messages in-process, without the IMAP
door, through `mailgate.store.transfer.append` (what the door's APPEND calls), with each part
timed:

- `fts5`: the statement that adds the message's search text to SQLite's FTS5 trigram index
  (the issue asks for the index to be maintained at APPEND);
- `commit`: the durable commit (SQLite WAL, synchronous=FULL: an fsync, and now and then a
  checkpoint);
- `blob`: the system calls that write the message file durably (create, write, fsync,
  rename, fsync of its folder and of a fan-out folder's parents when the write made it);
- `other SQL`: every other statement in SQLite;
- `python`: all the rest (MIME parse, search-text folding, SQLAlchemy, making a new fan-out
  folder, ...).

`fts5 + commit + blob` is work no implementation of this design can skip: the floor.
Prints milliseconds per APPEND (medians over the rounds) and how much of Dovecot's whole
APPEND the floor alone takes.

    .venv/bin/python bench/imap_append_floor.py [--quick] [--count N] [--rounds R]
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl
from imap_append import USER, append_pass, options

PARTS = ("fts5", "commit", "blob", "other SQL", "python")


class Timings:
    """Seconds spent in each part since `reset`."""

    def __init__(self) -> None:
        self.spent = dict.fromkeys(PARTS, 0.0)

    def timed(self, part: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.spent[part] += time.perf_counter() - t0
        return wrapper


def instrument(svc: Any, timings: Timings) -> None:
    """Time the store's statements, commits and file writes (the engine's events and
    wrappers on this process's objects only)."""
    from sqlalchemy import event

    from mailgate.store import blobs

    @event.listens_for(svc.engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    @event.listens_for(svc.engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        part = "fts5" if statement.startswith("INSERT INTO search_fts") else "other SQL"
        timings.spent[part] += time.perf_counter() - conn.info.pop("bench_t0")

    dialect = svc.engine.dialect
    dialect.do_commit = timings.timed("commit", dialect.do_commit)
    blobs.write_new = timings.timed("blob", blobs.write_new)
    blobs.sync_directory = timings.timed("blob", blobs.sync_directory)
    blobs.os = _TimedReplace(timings)


class _TimedReplace:
    """`os` for mailgate.store.blobs, with `replace` (the rename) timed as `blob`."""

    def __init__(self, timings: Timings) -> None:
        self.replace = timings.timed("blob", os.replace)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def mailgate_pass(svc: Any, timings: Timings, messages: list[bytes], tag: int
                  ) -> dict[str, float]:
    """APPEND every message to a new folder through the store (`svc`, `instrument`ed with
    `timings`); ms per APPEND of each part."""
    from mailgate.directory.views import account_row
    from mailgate.store import mailboxes, transfer
    from mailgate.store.messages import Incoming

    folder = f"floor-{tag}"
    with svc.engine.begin() as conn:
        account = int(account_row(conn, USER).id)
        mailboxes.create_mailbox(conn, account, folder, svc.clock())
    stamp = f"X-Bench-Pass: {tag}\r\n".encode()
    payloads = [stamp + message for message in messages]
    timings.spent = dict.fromkeys(PARTS, 0.0)
    t0 = time.perf_counter()
    for payload in payloads:
        transfer.append(svc, account, folder, [Incoming(payload)])
    total = time.perf_counter() - t0
    measured = sum(timings.spent.values())
    timings.spent["python"] = total - measured
    return {part: 1000 * seconds / len(payloads) for part, seconds in timings.spent.items()}


def main() -> None:
    a, count, rounds = options(__doc__, rounds=3)

    mailgate_runs: list[dict[str, float]] = []
    dovecot_ms: list[float] = []
    with bl.workspace("imap-append-floor", a.keep) as work:
        bl.make_corpus(work / "corpus", count, eml_dir=True)
        messages = [p.read_bytes() for p in sorted((work / "corpus").iterdir())]
        data = work / "mailgate"
        bl.mg_init(data)
        bl.mg_account(data, USER, pop=False)
        from mailgate.service import Service

        svc = Service.open(data)
        timings = Timings()
        instrument(svc, timings)
        dv = bl.DovecotReference(work / "dovecot", users=1)
        try:
            dv.start()
            asyncio.run(append_pass(dv.imap, "warm-up", messages[:50], 0))
            mailgate_pass(svc, timings, messages[:50], 0)
            for r in range(rounds):
                got = asyncio.run(append_pass(dv.imap, f"bench-{r + 1}", messages, r + 1))
                dovecot_ms.append(1000 * got["seconds"] / got["messages"])
                mailgate_runs.append(mailgate_pass(svc, timings, messages, r + 1))
                print(f"round {r + 1}/{rounds}: dovecot {dovecot_ms[-1]:.2f} ms per APPEND; "
                      "mailgate store " + ", ".join(
                          f"{part} {ms:.2f}" for part, ms in mailgate_runs[-1].items()))
        finally:
            dv.stop()
            svc.engine.dispose()

    parts = {part: bl.median([run[part] for run in mailgate_runs]) for part in PARTS}
    floor = parts["fts5"] + parts["commit"] + parts["blob"]
    dovecot = bl.median(dovecot_ms)
    rows = [[f"mailgate: {part}", ms] for part, ms in parts.items()]
    rows += [["mailgate: floor (fts5 + commit + blob)", floor],
             ["mailgate: store in all (no IMAP door)", sum(parts.values())],
             ["dovecot: whole APPEND over IMAP", dovecot]]
    bl.print_table(
        f"APPEND of {count} messages, ms per message, median of {rounds} rounds",
        ["", "ms per APPEND"], rows)
    print(f"the floor alone is {floor / dovecot:.2f}x Dovecot's whole APPEND: with no Python "
          f"time at all, mailgate could reach at most {dovecot / floor:.2f}x Dovecot's rate")
    bl.write_results("imap_append_floor", {
        "quick": a.quick, "messages": count, "rounds": rounds,
        "summary": {"mailgate_ms": parts, "floor_ms": floor, "dovecot_ms": dovecot,
                    "best_ratio_without_python": dovecot / floor},
        "raw": {"mailgate": mailgate_runs, "dovecot": dovecot_ms}})


if __name__ == "__main__":
    main()

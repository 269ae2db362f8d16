"""Webmail server time on a 10 000-message INBOX (webmail issue): the message list and
opening one message, p50 / p99.

The INBOX is make-corpus --count N --inbox-only, imported with `mailgate import`; the server
runs only its `http` listener. One `requests` session signs in on loopback (keep-alive), and
each request is timed from sending to the last byte of the answer, so the figures are the
server's time plus a loopback round trip. Dovecot has no webmail, so there is no reference
to run beside it: the figures are read against the issue's target, p99 under 50 ms.

Kinds of request, each `--requests` times, in rotation (so none enjoys a warmer cache):

  list newest      /mail                      (page 1, newest first: the index order)
  list deep page   /mail?page=150             (OFFSET 7450)
  list by subject  /mail?sort=subject         (the whole folder sorted by the database)
  list oldest      /mail?order=asc
  search           /mail?q=budget report      (the IMAP full-text index)
  open message     /mail/m/ID                 (a different message each time: parse, nh3,
                                               and marking it read, a write)

    .venv/bin/python bench/web_list.py [--quick] [--count N] [--requests R]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

USER = f"user1@{bl.DOMAIN}"
TARGET_P99_MS = 50.0
LISTS = {"list newest": "/mail", "list deep page": "/mail?page=150",
         "list by subject": "/mail?sort=subject", "list oldest": "/mail?order=asc",
         "search": "/mail?q=budget+report"}


def sign_in(url: str) -> requests.Session:
    session = requests.Session()
    page = session.get(url + "/signin?next=/mail", timeout=30)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None, page.text[:300]
    answer = session.post(url + "/signin", data={"csrf": token[1], "next": "/mail",
                                                  "address": USER, "password": bl.PASSWORD},
                          timeout=30, allow_redirects=False)
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in answered {answer.status_code}: {answer.text[:300]}")
    return session


def timed(session: requests.Session, url: str) -> float:
    started = time.perf_counter()
    answer = session.get(url, timeout=60)
    took = time.perf_counter() - started
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url} answered {answer.status_code}")
    return took * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 000 messages, 30 requests")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    count, rounds = (2000, 30) if args.quick else (args.count, args.requests)
    with bl.workspace("web-list") as work:
        _, files, size = bl.imported_inbox(work, count, USER)
        server = bl.MailgateServer(work / "mailgate", listeners=("http",)).start()
        try:
            url = f"http://127.0.0.1:{server.ports['http']}"
            session = sign_in(url)
            ids = [int(i) for i in re.findall(r'href="/mail/m/(\d+)"',
                                              session.get(url + "/mail", timeout=60).text)]
            assert ids, "the INBOX page lists no message"
            newest = max(ids)
            opened = random.Random(7).sample(range(max(1, newest - files + 1), newest + 1),
                                             k=min(rounds, files))
            for path in LISTS.values():  # one untimed pass each
                timed(session, url + path)
            times: dict[str, list[float]] = {name: [] for name in [*LISTS, "open message"]}
            for i in range(rounds):
                for name, path in LISTS.items():
                    times[name].append(timed(session, url + path))
                times["open message"].append(
                    timed(session, f"{url}/mail/m/{opened[i % len(opened)]}"))
        finally:
            server.stop()
    rows = []
    results = {}
    for name, values in times.items():
        p50, p99 = bl.median(values), bl.percentile(values, 99)
        results[name] = {"p50_ms": p50, "p99_ms": p99, "requests": len(values)}
        rows.append([name, f"{p50:.1f}", f"{p99:.1f}",
                     f"{bl.ratio(p99, TARGET_P99_MS):.2f}"])
    bl.print_table(f"webmail, {files}-message INBOX, {rounds} requests of each kind "
                   f"(ms, loopback client; target p99 < {TARGET_P99_MS:.0f} ms)",
                   ["request", "p50 ms", "p99 ms", "p99/target"], rows)
    bl.write_results("web_list", {"quick": args.quick, "messages": files, "bytes": size,
                                  "requests": rounds, "target_p99_ms": TARGET_P99_MS,
                                  "results": results})


if __name__ == "__main__":
    main()

"""The staff console over 100 000 accounts (issue 11, Benchmarks): account search and the
account page (target p99 under 50 ms), and the usage report over 100 000 accounts' last 90
days (target under 1 s).

The directory is bench/decision.py's (100 000 accounts, 40 departments, a policy mix), plus
usage rows for every account (one to three door x method pairs, last used up to 120 days
ago) and one admin who signs in to the console. Two timings of each page:

- `http`: the whole request over loopback HTTP with keep-alive, as the browser waits for it
  (server time plus a loopback round trip);
- `service`: the directory functions the page calls, in this process, on the same data (the
  server-side share without HTTP and templates).

No reference server (Dovecot has no staff console): absolute times, medians of rounds.

    .venv/bin/python bench/console_search.py [--quick] [--accounts N] [--rounds R]
"""

from __future__ import annotations

import argparse
import http.client
import random
import re
import sys
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl
from decision import build_directory

ADMIN = f"console-admin@{bl.DOMAIN}"
PAIRS = [("imap", "password"), ("imap", "oauth"), ("pop", "password"), ("smtp", "password"),
         ("smtp", "app_password"), ("web", "password")]


def add_usage(data: Path, seed: int) -> int:
    """One to three door x method usage rows per account, last used 0..120 days ago."""
    from mailgate.db.schema import accounts, usage
    from mailgate.service import Service

    rng = random.Random(seed)
    svc = Service.open(data)
    now = time.time()
    rows = []
    with svc.engine.begin() as conn:
        for account_id in conn.execute(accounts.select().with_only_columns(accounts.c.id))\
                .scalars():
            for protocol, method in rng.sample(PAIRS, rng.randint(1, 3)):
                at = now - rng.random() * 120 * 86400
                rows.append({"account_id": account_id, "protocol": protocol, "method": method,
                             "successes": rng.randint(1, 500), "failures": rng.randint(0, 5),
                             "last_success_at": at, "last_attempt_at": at})
        for start in range(0, len(rows), 5000):
            conn.execute(usage.insert(), rows[start:start + 5000])
    svc.engine.dispose()
    return len(rows)


class Browser:
    """One keep-alive HTTP connection with the console's cookies."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict[str, str] | None = None
                ) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=data, headers=headers)
        answer = self.conn.getresponse()
        text = answer.read().decode()
        for header in answer.headers.get_all("set-cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return answer.status, text

    def sign_in(self) -> None:
        _, page = self.request("GET", "/signin?next=/console")
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token is not None
        status, _ = self.request("POST", "/signin", {
            "csrf": token.group(1), "next": "/console", "address": ADMIN,
            "password": bl.PASSWORD})
        assert status == 303, status

    def timed(self, path: str) -> float:
        t0 = time.perf_counter()
        status, _ = self.request("GET", path)
        elapsed = time.perf_counter() - t0
        assert status == 200, (path, status)
        return elapsed


def service_times(data: Path, searches: list[str], addresses: list[str]
                  ) -> dict[str, list[float]]:
    from mailgate.audit import usage_report
    from mailgate.directory import cases, listing
    from mailgate.directory.views import load_actor
    from mailgate.events import live
    from mailgate.service import Service

    svc = Service.open(data)
    with svc.reader.connect() as conn:
        actor = load_actor(conn, ADMIN)
    out: dict[str, list[float]] = {"search": [], "account": [], "usage": []}
    clock = time.perf_counter
    for prefix in searches:
        t0 = clock()
        listing.search_accounts(svc, actor, prefix, "", 50)
        out["search"].append(clock() - t0)
    for address in addresses:
        t0 = clock()
        listing.show_account(svc, actor, address)
        live.list_sessions(svc, actor, address)
        cases.list_cases(svc, actor, address)
        out["account"].append(clock() - t0)
    for _ in range(3):
        t0 = clock()
        usage_report.recent_summary(svc, actor)
        usage_report.still_using_legacy(svc, actor)
        out["usage"].append(clock() - t0)
    svc.engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 000 accounts, 1 round")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300, help="per page and round")
    args = parser.parse_args()
    n, rounds = (10_000, 1) if args.quick else (args.accounts, args.rounds)
    rng = random.Random(11)
    with bl.workspace("console-bench") as work:
        data = work / "data"
        bl.mg_init(data)
        t0 = time.perf_counter()
        counts = build_directory(data, n, seed=11)
        counts["usage_rows"] = add_usage(data, seed=11)
        bl.mg(data, "account", "create", ADMIN, "--password-stdin", stdin=bl.PASSWORD + "\n")
        bl.mg(data, "role", "grant", ADMIN, "admin")
        print(f"directory of {n} accounts made in {time.perf_counter() - t0:.1f} s: {counts}")
        port = bl.free_port()
        server = bl.MailgateServer(data, http=port, listeners=()).start()
        try:
            bl.wait_port(port, 60, server.proc)
            browser = Browser(port)
            browser.sign_in()
            per_round: dict[str, list[dict[str, float]]] = {"search": [], "account": [],
                                                            "usage": []}
            for _ in range(rounds):
                searches = [f"user{rng.randrange(n):06d}"[:rng.choice((5, 6, 7, 8))]
                            for _ in range(args.requests)]
                addresses = [f"user{rng.randrange(n):06d}@{bl.DOMAIN}"
                             for _ in range(args.requests)]
                timings = {
                    "search": [browser.timed("/console/accounts?q=" + s) for s in searches],
                    "account": [browser.timed(f"/console/accounts/{a}") for a in addresses],
                    "usage": [browser.timed("/console/usage") for _ in range(5)]}
                inside = service_times(data, searches, addresses)
                for page, values in timings.items():
                    per_round[page].append({
                        "http_p50_ms": bl.percentile(values, 50) * 1000,
                        "http_p99_ms": bl.percentile(values, 99) * 1000,
                        "service_p50_ms": bl.percentile(inside[page], 50) * 1000,
                        "service_p99_ms": bl.percentile(inside[page], 99) * 1000})
        finally:
            server.stop()
    summary = {page: {key: bl.median([r[key] for r in results]) for key in results[0]}
               for page, results in per_round.items()}
    bl.print_table(f"console over {n} accounts (medians of {rounds} rounds, ms)",
                   ["page", "http p50", "http p99", "service p50", "service p99"],
                   [[page, s["http_p50_ms"], s["http_p99_ms"], s["service_p50_ms"],
                     s["service_p99_ms"]] for page, s in summary.items()])
    bl.write_results("console_search", {"quick": args.quick, "accounts": n, "rounds": rounds,
                                        "directory": counts, "summary": summary,
                                        "rounds_detail": per_round})


if __name__ == "__main__":
    main()

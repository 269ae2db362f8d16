"""Concurrent signed-in webmail users until p99 crosses 500 ms (webmail issue): how many
people can use the webmail at once on this machine.

The INBOX is make-corpus --count N --inbox-only (2 000 by default), imported with
`mailgate import`; the server runs only its `http` listener. A plain asyncio driver (httpx,
one client and so one keep-alive connection and one session cookie per simulated user)
signs in U users, then each loops without pause: list the INBOX (`/mail`, page 1), open a
message (`/mail/m/ID`, a random one of the folder: parse, nh3, mark read, a write), with
no pause by default (`--think S`: a random pause of 0 to 2·S seconds after each request,
as a person reading would make). U steps
up (5, 10, 20, 40, 80, ...); at each step every user runs for `--seconds` after one untimed
round, and the step's p50 / p99 (send to last byte) and requests per second are printed.
The run stops at the first step whose p99 passes 500 ms (or at `--max-users`); the answer
is the last step under it.

All users share the one imported account, each with a session of its own (a user reading
their own mail is the same work; one account keeps the import short). The driver runs on
the same 2 cores as the server, so its own CPU is part of what is measured: the count is a
floor, not a ceiling.

    .venv/bin/python bench/web_users.py [--quick] [--count N] [--seconds S] [--max-users U]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

USER = f"user1@{bl.DOMAIN}"
LIMIT_P99_MS = 500.0


async def sign_in(url: str) -> httpx.AsyncClient:
    """A client holding its own session cookie, signed in to the webmail."""
    client = httpx.AsyncClient(base_url=url, timeout=120)
    page = await client.get("/signin?next=/mail")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None, page.text[:300]
    answer = await client.post("/signin", data={"csrf": token[1], "next": "/mail",
                                                 "address": USER, "password": bl.PASSWORD})
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in answered {answer.status_code}: {answer.text[:300]}")
    return client


async def timed(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    answer = await client.get(path)
    took = time.perf_counter() - started
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path} answered {answer.status_code}")
    return took * 1000


async def user(client: httpx.AsyncClient, ids: list[int], seed: int, until: float,
               think: float, times: list[float]) -> None:
    """List, open, list, open ... until `until`; one untimed round first (with a think
    time, after a random pause, so the users do not all start at once)."""
    pick = random.Random(seed)
    if think:
        await asyncio.sleep(pick.uniform(0, 2 * think))
    await timed(client, "/mail")
    await timed(client, f"/mail/m/{pick.choice(ids)}")
    while time.monotonic() < until:
        for path in ("/mail", f"/mail/m/{pick.choice(ids)}"):
            times.append(await timed(client, path))
            if think:
                await asyncio.sleep(pick.uniform(0, 2 * think))


async def steps(url: str, ids: list[int], seconds: float, think: float, max_users: int
                ) -> list[dict[str, float]]:
    clients: list[httpx.AsyncClient] = []
    results: list[dict[str, float]] = []
    users = 5
    try:
        while users <= max_users:
            while len(clients) < users:
                clients.append(await sign_in(url))
            times: list[float] = []
            until = time.monotonic() + seconds
            started = time.monotonic()
            await asyncio.gather(*(user(c, ids, i, until, think, times)
                                   for i, c in enumerate(clients)))
            elapsed = time.monotonic() - started
            step = {"users": users, "requests": len(times), "p50_ms": bl.median(times),
                    "p99_ms": bl.percentile(times, 99), "per_second": len(times) / elapsed}
            results.append(step)
            print(f"  {users:4d} users: {step['requests']:6d} requests, "
                  f"p50 {step['p50_ms']:7.1f} ms, p99 {step['p99_ms']:7.1f} ms, "
                  f"{step['per_second']:6.1f}/s", flush=True)
            if step["p99_ms"] > LIMIT_P99_MS:
                break
            users *= 2
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 messages, 3 s a step")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean pause in seconds after each request (0: none)")
    parser.add_argument("--max-users", type=int, default=640)
    args = parser.parse_args()
    count, seconds = (500, 3.0) if args.quick else (args.count, args.seconds)
    bl.raise_nofile()
    with bl.workspace("web-users") as work:
        _, files, size = bl.imported_inbox(work, count, USER)
        server = bl.MailgateServer(work / "mailgate", listeners=("http",)).start()
        try:
            url = f"http://127.0.0.1:{server.ports['http']}"
            first = asyncio.run(_first_page(url))
            newest = max(first)
            ids = list(range(max(1, newest - files + 1), newest + 1))
            results = asyncio.run(steps(url, ids, seconds, args.think, args.max_users))
        finally:
            server.stop()
    under = [r for r in results if r["p99_ms"] <= LIMIT_P99_MS]
    best = int(under[-1]["users"]) if under else 0
    bl.print_table(f"webmail, {files}-message INBOX, users looping list + open, "
                   f"think {args.think:g} s, {seconds:.0f} s a step (ms, loopback asyncio "
                   "driver on the same cores)",
                   ["users", "requests", "p50 ms", "p99 ms", "req/s"],
                   [[int(r["users"]), int(r["requests"]), f"{r['p50_ms']:.1f}",
                     f"{r['p99_ms']:.1f}", f"{r['per_second']:.1f}"] for r in results])
    print(f"most concurrent users with p99 under {LIMIT_P99_MS:.0f} ms: {best}")
    name = "web_users" if not args.think else "web_users_think"
    bl.write_results(name, {"quick": args.quick, "messages": files, "bytes": size,
                            "seconds_per_step": seconds, "think_s": args.think,
                            "limit_p99_ms": LIMIT_P99_MS,
                            "users_under_limit": best, "steps": results})


async def _first_page(url: str) -> list[int]:
    """The message ids on the INBOX's first page (the newest is the highest id)."""
    client = await sign_in(url)
    try:
        page = await client.get("/mail")
    finally:
        await client.aclose()
    ids = [int(i) for i in re.findall(r'href="/mail/m/(\d+)"', page.text)]
    assert ids, "the INBOX page lists no message"
    return ids


if __name__ == "__main__":
    main()

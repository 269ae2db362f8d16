"""Access decisions per second for a directory of 100 000 accounts (issue 2, Benchmarks).

Measures mailgate's pure access decision, `mailgate.policy.decide(view, protocol, now,
method, peer)`, on PolicyViews loaded beforehand (target: median under 20 µs per decision),
and the time to load one view from the database for a random account
(`mailgate.directory.views.policy_view`, plus the account-row lookup a sign-in does first).

No reference server: Dovecot has no equivalent of a per-door policy decision, so this prints
absolute times (medians over rounds), not a ratio.

The directory is made after `mailgate init` with SQLAlchemy Core inserts: 100 000 accounts
(about 1.5% compromised/pending/deactivating), 40 departments (8 deny a door), account
settings on 12% (POP on or IMAP off), temporary grants on 1%, sign-in-method rules for a few
departments and one network rule for POP.

    .venv/bin/python bench/decision.py [--quick] [--accounts N] [--rounds R]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

PEERS = ("127.0.0.1", "10.1.2.3", "192.0.2.44", "2001:db8::7")


def build_directory(data: Path, n: int, seed: int) -> dict[str, int]:
    """Insert n accounts with a policy mix straight into the tables; returns the counts."""
    from mailgate.db.schema import (
        account_settings,
        accounts,
        department_denials,
        departments,
        method_rules,
        network_rules,
        plans,
        temporary_grants,
    )
    from mailgate.service import Service

    rng = random.Random(seed)
    svc = Service.open(data)
    # One real argon2id hash at the production cost (never verified here).
    password_hash = svc.passwords.hash(bl.PASSWORD)
    now = time.time()
    counts = {"accounts": n}
    with svc.engine.begin() as conn:
        plan = conn.execute(plans.select().where(plans.c.name == "standard")).one().id
        dept_ids = [conn.execute(departments.insert().values(name=f"Department {i:02d}"))
                    .inserted_primary_key[0] for i in range(40)]
        denials = [{"department_id": d, "protocol": p} for d, p in
                   zip(dept_ids[:8], ["pop", "imap", "pop", "smtp", "pop", "web", "api", "pop"],
                       strict=True)]
        conn.execute(department_denials.insert(), denials)
        conn.execute(method_rules.insert(), [
            {"scope": "department", "scope_id": d, "protocol": "imap",
             "methods": "app_password,oauth"} for d in dept_ids[8:12]] + [
            {"scope": "plan", "scope_id": plan, "protocol": "smtp",
             "methods": "password,app_password,oauth"}])
        conn.execute(network_rules.insert().values(protocol="pop",
                                                   networks="127.0.0.0/8,10.0.0.0/8,::1/128"))
        counts.update(departments=len(dept_ids), department_denials=len(denials),
                      method_rules=5, network_rules=1)
        states = ["active"] * 985 + ["compromised"] * 5 + ["pending"] * 5 + \
            ["deactivating"] * 5
        batch = []
        for i in range(n):
            state = rng.choice(states)
            batch.append({
                "address": f"user{i:06d}@{bl.DOMAIN}", "name": f"User {i}",
                "password_hash": password_hash,
                "department_id": rng.choice(dept_ids) if rng.random() < 0.7 else None,
                "plan_id": plan, "state": state,
                "deactivate_at": now + 86400 * 30 if state == "deactivating" else None,
                "created_at": now, "credential_epoch": 0})
            if len(batch) == 5000:
                conn.execute(accounts.insert(), batch)
                batch = []
        if batch:
            conn.execute(accounts.insert(), batch)
        ids = list(conn.execute(accounts.select().with_only_columns(accounts.c.id)).scalars())
        settings, grants = [], []
        for account_id in ids:
            r = rng.random()
            if r < 0.10:
                settings.append({"account_id": account_id, "protocol": "pop", "enabled": True,
                                 "source": "account", "case_id": None, "set_by": "system",
                                 "set_at": now})
            elif r < 0.12:
                settings.append({"account_id": account_id, "protocol": "imap", "enabled": False,
                                 "source": "case", "case_id": 1, "set_by": "system",
                                 "set_at": now})
            if rng.random() < 0.01:
                grants.append({"account_id": account_id, "protocol": "pop", "enabled": True,
                               "expires_at": now + 86400 * 7, "case_id": 1,
                               "set_by": "system"})
        conn.execute(account_settings.insert(), settings)
        conn.execute(temporary_grants.insert(), grants)
        counts.update(account_settings=len(settings), temporary_grants=len(grants))
    svc.engine.dispose()
    return counts


def load_views(data: Path, addresses: list[str]) -> tuple[list, list[float], list[float]]:
    """Views for the given accounts, timing the row lookup + policy_view of each (seconds)."""
    from mailgate.directory.views import find_account, policy_view
    from mailgate.service import Service

    svc = Service.open(data)
    views, with_lookup, view_only = [], [], []
    clock = time.perf_counter
    with svc.engine.connect() as conn:
        for address in addresses:
            t0 = clock()
            row = find_account(conn, address)
            t1 = clock()
            view = policy_view(conn, row, time.time())
            t2 = clock()
            views.append(view)
            with_lookup.append(t2 - t0)
            view_only.append(t2 - t1)
    svc.engine.dispose()
    return views, with_lookup, view_only


def time_decisions(views: list, rng: random.Random) -> dict[str, float]:
    """One round: each view x each door, timed one by one, then as a tight loop."""
    from mailgate.policy.catalogue import PROTOCOLS
    from mailgate.policy.decision import decide

    now = time.time()
    work = [(v, p, rng.choice(PEERS)) for v in views for p in PROTOCOLS]
    rng.shuffle(work)
    ns = time.perf_counter_ns
    gc.disable()
    try:
        # Overhead of the timer itself, subtracted from the per-call times.
        empty = []
        for _ in range(20000):
            t0 = ns()
            empty.append(ns() - t0)
        overhead = bl.median(empty)
        single, sign_in = [], []
        allowed = 0
        for view, protocol, peer in work:
            t0 = ns()
            d = decide(view, protocol, now, "password", peer)
            t1 = ns()
            sign_in.append(t1 - t0 - overhead)
            allowed += d.allowed
        for view, protocol, _ in work:
            t0 = ns()
            decide(view, protocol, now)
            t1 = ns()
            single.append(t1 - t0 - overhead)
        t0 = ns()
        for view, protocol, peer in work:
            decide(view, protocol, now, "password", peer)
        loop_ns = ns() - t0
    finally:
        gc.enable()
    return {
        "decisions": len(work),
        "allowed_share": allowed / len(work),
        "signin_median_us": bl.median(sign_in) / 1000,
        "signin_p99_us": bl.percentile(sign_in, 99) / 1000,
        "door_median_us": bl.median(single) / 1000,
        "door_p99_us": bl.percentile(single, 99) / 1000,
        "loop_per_sec": len(work) / (loop_ns / 1e9),
        "timer_overhead_ns": overhead,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 20 000 accounts, 2 rounds")
    ap.add_argument("--accounts", type=int, default=None)
    ap.add_argument("--views", type=int, default=None, help="views loaded and decided per round")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    a = ap.parse_args()
    n = a.accounts or (20_000 if a.quick else 100_000)
    n_views = a.views or (1_000 if a.quick else 5_000)
    rounds = a.rounds or (2 if a.quick else 5)
    rng = random.Random(a.seed)

    with bl.workspace("decision", a.keep) as work:
        data = work / "mailgate"
        bl.mg_init(data)
        t0 = time.perf_counter()
        counts = build_directory(data, n, a.seed)
        built = time.perf_counter() - t0
        print(f"directory: {counts} (inserted in {built:.1f}s)")

        per_round = []
        load_lookup, load_view = [], []
        for r in range(rounds):
            sample = [f"user{rng.randrange(n):06d}@{bl.DOMAIN}" for _ in range(n_views)]
            views, with_lookup, view_only = load_views(data, sample)
            load_lookup.append((bl.median(with_lookup), bl.percentile(with_lookup, 99)))
            load_view.append((bl.median(view_only), bl.percentile(view_only, 99)))
            result = time_decisions(views, rng)
            per_round.append(result)
            print(f"round {r + 1}/{rounds}: decide median {result['signin_median_us']:.2f} µs "
                  f"p99 {result['signin_p99_us']:.2f} µs, {result['loop_per_sec']:,.0f}/s; "
                  f"view load median {load_lookup[-1][0] * 1e3:.3f} ms")

    def med(key: str) -> float:
        return bl.median([r[key] for r in per_round])

    summary = {
        "decide_signin_median_us": med("signin_median_us"),
        "decide_signin_p99_us": med("signin_p99_us"),
        "decide_door_median_us": med("door_median_us"),
        "decide_door_p99_us": med("door_p99_us"),
        "decisions_per_sec_loop": med("loop_per_sec"),
        "view_load_median_ms": bl.median([m for m, _ in load_lookup]) * 1e3,
        "view_load_p99_ms": bl.median([p for _, p in load_lookup]) * 1e3,
        "policy_view_only_median_ms": bl.median([m for m, _ in load_view]) * 1e3,
        "policy_view_only_p99_ms": bl.median([p for _, p in load_view]) * 1e3,
        "target_decide_median_us": 20.0,
    }
    summary["meets_target"] = summary["decide_signin_median_us"] < 20.0
    bl.print_table(
        f"Access decision, {n:,} accounts, {n_views:,} random accounts x 6 doors per round, "
        f"median of {rounds} rounds (no reference server: absolute times; lower is better)",
        ["measure", "median", "p99", "unit"],
        [["decide(view, door, now, method, peer)", summary["decide_signin_median_us"],
          summary["decide_signin_p99_us"], "µs"],
         ["decide(view, door, now)  (account show)", summary["decide_door_median_us"],
          summary["decide_door_p99_us"], "µs"],
         ["decisions per second (one core, tight loop)", summary["decisions_per_sec_loop"],
          float("nan"), "1/s"],
         ["find_account + policy_view (SQLite)", summary["view_load_median_ms"],
          summary["view_load_p99_ms"], "ms"],
         ["policy_view alone", summary["policy_view_only_median_ms"],
          summary["policy_view_only_p99_ms"], "ms"]])
    verdict = "meets" if summary["meets_target"] else "MISSES"
    print(f"\ntarget: median decision < 20 µs -> {verdict} "
          f"({summary['decide_signin_median_us']:.2f} µs)")
    bl.write_results("decision", {"quick": a.quick, "accounts": n, "views_per_round": n_views,
                                  "rounds": rounds, "directory": counts, "summary": summary,
                                  "per_round": per_round, "reference": None})


if __name__ == "__main__":
    main()

"""Token validation per sign-in vs password sign-in (argon2id), in one process (issue 9).

mailgate only, on the same machine in the same run: the reference is mailgate's own password
check at the production argon2id cost (m=65536 KiB, t=3, p=1), which is what Dovecot runs
too. Rounds alternate which side goes first.

  token validate   `svc.tokens.validate(token, "imap")`: RS256 signature, claims, scope, with
                   the signing keys already read (cached after the first use)
  token sign-in    `Gate.authenticate("imap", "XOAUTH2", ...)`: the above plus the account,
                   its policy view and the revocation check from the database (the whole
                   sign-in a door waits for)
  password         `Gate.authenticate("imap", "PLAIN", ...)` with the verified-credential
                   cache off (`auth.credential_cache_seconds = 0`): one argon2id each

Prints the median per sign-in of each and the ratio password/token (how many token sign-ins
fit in one password sign-in). Target: token validation under 0.2 ms median.

    .venv/bin/python bench/auth_token_validation.py [--quick] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

TARGET_MS = 0.2


def timed(calls: int, one) -> list[float]:  # type: ignore[no-untyped-def]
    """Milliseconds of each of `calls` calls of `one()`."""
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        one()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


async def timed_async(calls: int, one) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        await one()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 2 short rounds")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    rounds = a.rounds or (2 if a.quick else 5)
    token_calls = 300 if a.quick else 3000
    password_calls = 5 if a.quick else 20
    for key in [k for k in os.environ if k.startswith("MAILGATE_AUTH_ARGON2")]:
        del os.environ[key]  # the production cost
    os.environ["MAILGATE_AUTH_CREDENTIAL_CACHE_SECONDS"] = "0"
    os.environ["MAILGATE_AUTH_THROTTLE_MAX_DELAY_MS"] = "0"

    from mailgate.audit.recorder import Recorder
    from mailgate.auth.gate import Gate, Principal
    from mailgate.directory import tokens
    from mailgate.directory.authority import Actor
    from mailgate.service import Service

    user = f"user1@{bl.DOMAIN}"
    with bl.workspace("auth_token_validation", a.keep) as work:
        data = work / "mailgate"
        bl.mg_init(data)
        bl.bulk_accounts(data, [user])
        svc = Service.open(data)
        gate = Gate(svc, Recorder(svc))
        token = tokens.issue(svc, Actor.system(), user, ["imap"]).token
        svc.tokens.validate(token, "imap")  # keys read once, then cached

        async def token_sign_in() -> None:
            got = await gate.authenticate("imap", "XOAUTH2", user, token, "127.0.0.1", True)
            assert isinstance(got, Principal), got

        async def password_sign_in() -> None:
            got = await gate.authenticate("imap", "PLAIN", user, bl.PASSWORD, "127.0.0.1",
                                          True)
            assert isinstance(got, Principal), got

        async def measure() -> dict[str, list[float]]:
            results: dict[str, list[float]] = {"validate": [], "token": [], "password": []}
            await timed_async(50, token_sign_in)  # warm: pools, statement cache
            for r in range(rounds):
                sides = ["token", "password"] if r % 2 == 0 else ["password", "token"]
                for side in sides:
                    if side == "token":
                        results["validate"] += timed(
                            token_calls, lambda: svc.tokens.validate(token, "imap"))
                        results["token"] += await timed_async(token_calls, token_sign_in)
                    else:
                        results["password"] += await timed_async(password_calls,
                                                                 password_sign_in)
                print(f"round {r + 1}/{rounds}: validate "
                      f"{bl.median(results['validate']):.3f} ms, token sign-in "
                      f"{bl.median(results['token']):.3f} ms, password sign-in "
                      f"{bl.median(results['password']):.1f} ms (medians so far)", flush=True)
            return results

        try:
            results = asyncio.run(measure())
        finally:
            gate.close()
            svc.dispose()

    summary = {f"{k}_median_ms": bl.median(v) for k, v in results.items()}
    summary.update({f"{k}_p99_ms": bl.percentile(v, 99) for k, v in results.items()})
    summary["password_over_validate"] = bl.ratio(summary["password_median_ms"],
                                                 summary["validate_median_ms"])
    summary["password_over_token_sign_in"] = bl.ratio(summary["password_median_ms"],
                                                      summary["token_median_ms"])
    bl.print_table(
        f"Per sign-in, median of {rounds} rounds (argon2id m=65536 t=3 p=1; keys cached); "
        f"lower is better, target token validation < {TARGET_MS} ms",
        ["", "median ms", "p99 ms", "password / this"],
        [["token validation (signature, claims)", summary["validate_median_ms"],
          summary["validate_p99_ms"], summary["password_over_validate"]],
         ["token sign-in (gate: + account, policy, revocation)", summary["token_median_ms"],
          summary["token_p99_ms"], summary["password_over_token_sign_in"]],
         ["password sign-in (gate: argon2id, cache off)", summary["password_median_ms"],
          summary["password_p99_ms"], 1.0]])
    bl.write_results("auth_token_validation", {
        "quick": a.quick, "rounds": rounds, "token_calls_per_round": token_calls,
        "password_calls_per_round": password_calls, "target_validate_ms": TARGET_MS,
        "better": "lower (ms per sign-in)", "summary": summary})


if __name__ == "__main__":
    main()

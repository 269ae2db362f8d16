"""`mailgate account compromise` -> every session signed in with a token or an app password
ended (issue 9).

mailgate only (Dovecot has no tokens nor a policy change to propagate). Each run uses a fresh
account with sessions on three doors, each signed in with a credential other than the
password (what compromise must reach beyond the password itself):

  imap      AUTHENTICATE OAUTHBEARER with a token, INBOX selected, in IDLE
  imap_app  LOGIN with an app password (scoped to IMAP and POP3), INBOX selected, in IDLE
  smtp      EHLO + AUTH OAUTHBEARER on the submission listener, then idle
  pop3      USER + PASS with the app password, then idle (one: POP3 locks the mailbox)

(`--sessions` of each but POP3, default 100). Then `mailgate account compromise ADDR` runs as a
separate process (the operator's CLI), and a reader per session notes when its connection
ends (IMAP `* BYE`, SMTP `421`, POP3 closed). Times are from the change's commit (the
`account.compromise` event row's timestamp) to the first, median and last session ended;
median over the runs. Target: last session ended <= 250 ms after the change commits.

    .venv/bin/python bench/auth_compromise.py [--quick] [--sessions N] [--runs R]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

TARGET_MS = 250.0
TIMEOUT = 120.0


#: a session kept open: its reader, and its writer (dropped, it would close the connection)
Session = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def imap_token(port: int, user: str, token: str) -> Session:
    client = await bl.ImapClient.connect(port, timeout=TIMEOUT)
    await client.command(f"AUTHENTICATE OAUTHBEARER {bl.bearer(user, token)}")
    await client.command("SELECT INBOX")
    await client.idle()
    return client.reader, client.writer


async def smtp_token(port: int, user: str, token: str) -> Session:
    return await bl.smtp_oauthbearer(port, user, token, TIMEOUT)


async def imap_app_password(port: int, user: str, secret: str) -> Session:
    client = await bl.ImapClient.connect(port, timeout=TIMEOUT)
    await client.login(user, secret)
    await client.command("SELECT INBOX")
    await client.idle()
    return client.reader, client.writer


async def pop3_app_password(port: int, user: str, secret: str) -> Session:
    return await bl.pop3_open(port, user, secret, timeout=TIMEOUT)


async def ended(reader: asyncio.StreamReader) -> float:
    """When the server ends the session: a BYE / 421 line, or the connection closed."""
    while True:
        try:
            line = await reader.readline()
        except (OSError, ConnectionError):
            line = b""
        if not line or line.startswith((b"* BYE", b"421")):
            return time.time()


def credentials(data: Path, users: list[str]) -> dict[str, tuple[str, str]]:
    """(token for IMAP and SMTP, app password for IMAP and POP3) of each user."""
    from mailgate.directory import app_passwords, tokens
    from mailgate.directory.authority import Actor
    from mailgate.service import Service

    svc = Service.open(data)
    try:
        system = Actor.system()
        return {u: (tokens.issue(svc, system, u, ["imap", "smtp"]).token,
                    app_passwords.create(svc, system, u, ["imap", "pop"])[1]) for u in users}
    finally:
        svc.dispose()


async def one_run(mg: bl.MailgateServer, user: str, token: str, secret: str,
                  a: argparse.Namespace) -> dict:
    openers = {"imap": lambda _: imap_token(mg.imap, user, token),
               "imap_app": lambda _: imap_app_password(mg.imap, user, secret),
               "smtp": lambda _: smtp_token(mg.ports["submission"], user, token),
               "pop3": lambda _: pop3_app_password(mg.pop3, user, secret)}
    sessions: dict[str, list[Session]] = {}
    for door, opener in openers.items():
        count = 1 if door == "pop3" else a.sessions
        opened, errors = await bl.open_many(count, opener, a.concurrency, door)
        if errors:
            raise RuntimeError(f"{user}: {door} sessions failed to start: {errors}")
        sessions[door] = opened
    watchers = {door: [asyncio.create_task(ended(reader)) for reader, _ in opened]
                for door, opened in sessions.items()}
    await asyncio.sleep(a.settle)  # every session registered and idle
    start = time.time()
    proc = await asyncio.create_subprocess_exec(
        str(bl.MAILGATE), "--data", str(mg.data), "account", "compromise", user,
        "--reason", "benchmark", stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    exited = time.time()
    if proc.returncode != 0:
        raise RuntimeError(f"account compromise failed: {err.decode().strip()}")
    every = [t for ts in watchers.values() for t in ts]
    _done, pending = await asyncio.wait(every, timeout=30)
    for task in pending:
        task.cancel()
    for _, writer in (pair for opened in sessions.values() for pair in opened):
        writer.close()
    changed = bl.change_committed_at(mg.data, "account.compromise")
    got: dict = {"sessions": len(every), "still_open": len(pending),
                 "cli_runtime_ms": (exited - start) * 1e3}
    times = sorted(t.result() for t in every if t.done() and not t.cancelled())
    got.update({"first_ms": (times[0] - changed) * 1e3,
                "median_ms": (bl.median(times) - changed) * 1e3,
                "last_ms": (times[-1] - changed) * 1e3,
                "last_from_cli_exit_ms": (times[-1] - exited) * 1e3})
    for door, ts in watchers.items():
        done = [t.result() for t in ts if t.done() and not t.cancelled()]
        got[f"{door}_last_ms"] = (max(done) - changed) * 1e3 if done else float("nan")
    return got


async def run_all(mg: bl.MailgateServer, users: list[str],
                  creds: dict[str, tuple[str, str]], a: argparse.Namespace) -> list[dict]:
    runs = []
    for i, user in enumerate(users):
        got = await one_run(mg, user, *creds[user], a)
        runs.append(got)
        print(f"run {i + 1}/{len(users)}: {got['sessions'] - got['still_open']}/"
              f"{got['sessions']} ended; after the change: first {got['first_ms']:.0f} ms, "
              f"median {got['median_ms']:.0f} ms, last {got['last_ms']:.0f} ms (imap "
              f"{got['imap_last_ms']:.0f}, imap app {got['imap_app_last_ms']:.0f}, smtp "
              f"{got['smtp_last_ms']:.0f}, pop3 "
              f"{got['pop3_last_ms']:.0f}); CLI ran {got['cli_runtime_ms']:.0f} ms", flush=True)
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 20 sessions, 2 runs")
    ap.add_argument("--sessions", type=int, default=None, help="sessions per door")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--concurrency", type=int, default=20, help="sign-ins in flight")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds before the change")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    a.sessions = a.sessions or (20 if a.quick else 100)
    runs = a.runs or (2 if a.quick else 5)
    bl.raise_nofile(max(65536, 12 * a.sessions + 1024))
    users = [f"user{i}@{bl.DOMAIN}" for i in range(1, runs + 1)]

    with bl.workspace("auth-compromise", a.keep) as work:
        data = work / "mailgate"
        bl.mg_init(data)
        bl.bulk_accounts(data, users)
        creds = credentials(data, users)
        mg = bl.MailgateServer(data, listeners=("imap", "pop3", "submission"))
        try:
            mg.start()
            result = asyncio.run(run_all(mg, users, creds, a))
        except Exception:
            print(f"mailgate serve log tail:\n{mg.log_tail()}", file=sys.stderr)
            raise
        finally:
            mg.stop()

    keys = ("first_ms", "median_ms", "last_ms", "last_from_cli_exit_ms", "cli_runtime_ms",
            "imap_last_ms", "imap_app_last_ms", "smtp_last_ms", "pop3_last_ms")
    summary = {key: bl.median([r[key] for r in result]) for key in keys}
    summary["last_ms_max"] = max(r["last_ms"] for r in result)
    summary["still_open"] = sum(r["still_open"] for r in result)
    bl.print_table(
        f"`mailgate account compromise` in another process -> every token / app-password "
        f"session ended ({a.sessions} each of IMAP+token, IMAP+app password, SMTP+token; one "
        f"POP3+app password), "
        f"median of {runs} runs (mailgate only; target: last <= {TARGET_MS:.0f} ms after "
        "the change commits)",
        ["", "median ms", "max ms"],
        [["first ended, from the change (event row timestamp)", summary["first_ms"],
          max(r["first_ms"] for r in result)],
         ["median ended, from the change", summary["median_ms"],
          max(r["median_ms"] for r in result)],
         ["last ended, from the change", summary["last_ms"], summary["last_ms_max"]],
         ["  last IMAP (token)", summary["imap_last_ms"],
          max(r["imap_last_ms"] for r in result)],
         ["  last IMAP (app password)", summary["imap_app_last_ms"],
          max(r["imap_app_last_ms"] for r in result)],
         ["  last SMTP (token)", summary["smtp_last_ms"],
          max(r["smtp_last_ms"] for r in result)],
         ["  last POP3 (app password)", summary["pop3_last_ms"],
          max(r["pop3_last_ms"] for r in result)],
         ["last ended, from the CLI's exit", summary["last_from_cli_exit_ms"],
          max(r["last_from_cli_exit_ms"] for r in result)],
         ["(CLI run time, start to exit)", summary["cli_runtime_ms"],
          max(r["cli_runtime_ms"] for r in result)]])
    if summary["still_open"]:
        print(f"\n{summary['still_open']} sessions still open 30 s after the change")
    bl.write_results("auth_compromise", {
        "quick": a.quick, "sessions_per_door": a.sessions, "runs": runs,
        "target_ms": TARGET_MS, "better": "lower (ms)", "summary": summary, "raw": result})


if __name__ == "__main__":
    main()

"""Authenticated submission, 10 clients, local delivery, vs Debian's Postfix with SASL
through Dovecot and LMTP delivery to Dovecot (SMTP issue).

Each of CLIENTS clients (user1..userC) connects on loopback, EHLO, `AUTH PLAIN` (argon2id
m=65536 t=3 p=1 on both sides, verified once per connection), then submits its messages one
after the other (MAIL, RCPT, DATA; no pipelining) to its own local recipient (user{C+i}),
reconnecting every PER_SESSION messages; all clients at once. Messages are about 10 KB of
plain text, unique per round.

  mailgate  `mailgate serve` (submission listener only, plaintext AUTH allowed on loopback):
            250 once the message is durable in the recipient's INBOX (and the sender's Sent
            copy, which a plan keeps by default; Postfix keeps none). The plan's sending
            limits are lifted for the run (`mailgate plan sending standard ... none`).
  postfix   a throwaway Postfix (`postfix -c DIR`, bench/mailflow.py) on loopback: SASL
            through dovecot-reference's auth socket, 250 once the queue file is fsynced,
            then its queue manager hands the message to dovecot-reference's LMTP (Maildir,
            fsynced).

Two times per round: *accepted* (the last 250) and *delivered* (the last message in its
recipient's mailbox: the same moment for mailgate; polled in Dovecot's Maildirs for
Postfix). The ratio compares delivered messages per second (higher is better; target >= 1.0).
Rounds alternate which server goes first.

    .venv/bin/python bench/smtp_submission.py [--quick] [--messages N] [--rounds R]
        [--clients C] [--per-session K]
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl
import mailflow as mf


async def submit_all(port: int, clients: int, per_client: int, per_session: int, size: int,
                     tag: str) -> float:
    """Every client submits its messages; seconds until the last 250."""
    async def client(i: int) -> None:
        sender, to = mf.user(i + 1), mf.user(clients + i + 1)
        messages = [mf.text_message(sender, to, f"{tag}.{i}.{n}", size)
                    for n in range(per_client)]
        for start in range(0, per_client, per_session):
            session = await mf.SubmissionClient.signed_in(port, sender)
            for message in messages[start:start + per_session]:
                await session.send(sender, to, message)
            await session.quit()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return time.perf_counter() - started


def main() -> None:
    options = mf.Options(__doc__, messages="messages", messages_help="messages per round, in all",
                         quick=200, full=2000, size_help="octets per message, about")
    options.add("--clients", type=int, default=10, help="concurrent submission clients")
    options.add("--per-session", type=int, default=10,
                help="messages per connection (one AUTH each)")
    a, total, rounds = options.parse()
    per_client = max(1, total // a.clients)
    total = per_client * a.clients

    users = [mf.user(i + 1) for i in range(2 * a.clients)]
    recipients = users[a.clients:]
    runs: dict[str, dict[str, list[float]]] = {
        name: {"accepted": [], "delivered": []} for name in ("mailgate", "postfix")}
    with bl.workspace("smtp-submission", a.keep) as work:
        data = work / "mailgate"
        bl.mg_init(data)
        bl.bulk_accounts(data, users, pop=False)
        bl.mg(data, "plan", "sending", "standard", "--messages-per-hour", "none",
              "--recipients-per-hour", "none")
        mg = bl.MailgateServer(data, listeners=("submission",))
        dv = bl.DovecotReference(work / "dovecot", users=len(users))
        pf: mf.PostfixInstance | None = None
        count: dict[str, Callable[[], int]] = {
            "mailgate": lambda: sum(mf.mailgate_count(data, r) for r in recipients),
            "postfix": lambda: sum(mf.dovecot_count(dv, r) for r in recipients)}
        try:
            mg.start()
            dv.start()
            pf = mf.PostfixInstance(work / "postfix", mf.dovecot_auth_socket(dv), dv.lmtp)
            pf.start()
            ports = {"mailgate": mg.ports["submission"], "postfix": pf.port}
            for name, port in ports.items():  # untimed: processes, caches, a first sign-in
                before = count[name]()
                asyncio.run(submit_all(port, a.clients, 1, 1, a.size, f"warm-{name}"))
                mf.wait_count(count[name], before + a.clients, 120)
            for r in range(rounds):
                for name in (list(ports) if r % 2 == 0 else list(ports)[::-1]):
                    before = count[name]()
                    started = time.perf_counter()
                    accepted = asyncio.run(submit_all(ports[name], a.clients, per_client,
                                                      a.per_session, a.size, f"r{r}-{name}"))
                    delivered = mf.wait_count(count[name], before + total) - started
                    if (stored := count[name]() - before) != total:
                        raise RuntimeError(f"{name}: {stored} of {total} messages delivered")
                    runs[name]["accepted"].append(total / accepted)
                    runs[name]["delivered"].append(total / delivered)
                    print(f"round {r + 1}/{rounds}: {name:<8} accepted {total / accepted:7.1f}"
                          f" messages/s, delivered {total / delivered:7.1f} messages/s "
                          f"({delivered:.1f}s)", flush=True)
        except Exception:
            print(f"mailgate serve log tail:\n{mg.log_tail()}", file=sys.stderr)
            if pf is not None:
                print(f"postfix log tail:\n{pf.log_tail()}", file=sys.stderr)
            raise
        finally:
            mg.stop()
            if pf is not None:
                pf.stop()
            dv.stop()

    rows, summary = [], {}
    for kind in ("accepted", "delivered"):
        m, p = bl.median(runs["mailgate"][kind]), bl.median(runs["postfix"][kind])
        summary[kind] = {"mailgate_per_sec": m, "postfix_per_sec": p, "ratio": bl.ratio(m, p)}
        rows.append([f"{kind} messages/s", m, p, bl.ratio(m, p),
                     ">= 1.0" if kind == "delivered" else ""])
    bl.print_table(
        f"Authenticated submission, {a.clients} clients, {total} messages of about {a.size} "
        f"octets, {a.per_session} per connection, local delivery; median of {rounds} rounds; "
        "higher is better", ["", "mailgate", "postfix+dovecot", "mailgate/postfix", "target"],
        rows)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bl.write_results("smtp_submission", {
        "quick": a.quick, "messages": total, "size": a.size, "clients": a.clients,
        "per_session": a.per_session, "rounds": rounds,
        "better": "higher ratio (delivered messages per second)",
        "load_average": os.getloadavg(), "summary": summary, "raw": runs})


if __name__ == "__main__":
    main()

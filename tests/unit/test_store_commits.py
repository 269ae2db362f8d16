"""Group commit (`store.commits`), on every backend: deliveries that arrive together share
one transaction, each gets its own result only after the commit, a failing one fails
alone, a failed commit fails its whole batch and stores nothing."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, delete, event, func, select, update

from mailgate.audit.reading import check_chain
from mailgate.db.schema import accounts as accounts_table
from mailgate.db.schema import audit_log, blobs, folders, messages, sends
from mailgate.directory import accounts
from mailgate.directory.authority import Actor
from mailgate.directory.views import account_row
from mailgate.protocols.smtp import delivery
from mailgate.service import Service
from mailgate.store import messages as store_messages
from mailgate.store.commits import GroupCommit, commit_together
from mailgate.store.folders import folder_id
from mailgate.store.messages import Incoming
from mailstore import counting

ALICE, BOB, GONE = "alice@example.test", "bob@example.test", "gone@example.test"


def _raw(n: int) -> bytes:
    return f"From: x@example.org\r\nSubject: load {n}\r\n\r\nbody {n}\r\n".encode()


def _subjects(svc: Service, address: str) -> Counter[str]:
    with svc.engine.connect() as conn:
        inbox = folder_id(conn, account_row(conn, address).id, "INBOX")
        return Counter(str(s) for s in conn.execute(
            select(blobs.c.subject).join(messages, messages.c.digest == blobs.c.digest)
            .where(messages.c.folder_id == inbox)).scalars())


def _count_commits(svc: Service) -> list[int]:
    commits = [0]

    @event.listens_for(svc.engine, "commit")
    def _counted(conn: Connection) -> None:
        commits[0] += 1

    return commits


@pytest.fixture
def people(svc: Service) -> Service:
    for address in (ALICE, BOB, GONE):
        accounts.create(svc, Actor.system(), address, "correct-horse")
    return svc


@pytest.fixture
def writer(people: Service) -> Iterator[GroupCommit]:
    committer = GroupCommit(people.engine)
    yield committer
    committer.close()


def test_concurrent_deliveries_share_commits_and_all_arrive_once(
        people: Service, writer: GroupCommit) -> None:
    svc = people
    commits = _count_commits(svc)

    async def deliver_all() -> list[delivery.Outcome]:
        return await asyncio.gather(*[
            delivery.store(svc, writer, _raw(n), b"", {ALICE: ALICE, BOB: BOB},
                           all_or_nothing=False) for n in range(60)])

    outcomes = asyncio.run(deliver_all())
    assert all(not o.refused for o in outcomes)
    for address in (ALICE, BOB):
        assert _subjects(svc, address) == Counter(f"load {n}" for n in range(60))
    assert commits[0] < 30, f"{commits[0]} commits for 60 deliveries: none were grouped"


def test_a_refused_delivery_fails_alone_in_its_batch(
        people: Service, writer: GroupCommit) -> None:
    svc = people
    accounts.deactivate(svc, Actor.system(), GONE, now_=True)

    async def deliver_mixed() -> list[delivery.Outcome]:
        return await asyncio.gather(*[
            delivery.store(svc, writer, _raw(n), b"",
                           {ALICE: ALICE, GONE: GONE} if n % 3 == 0 else {ALICE: ALICE},
                           all_or_nothing=True) for n in range(12)])

    outcomes = asyncio.run(deliver_mixed())
    refused = [n for n, o in enumerate(outcomes) if o.refused]
    assert refused == [0, 3, 6, 9]
    assert all(outcomes[n].refused == {GONE} for n in refused)
    assert _subjects(svc, ALICE) == Counter(f"load {n}" for n in range(12) if n % 3)


def test_an_error_in_one_work_rolls_back_only_that_one(
        people: Service, writer: GroupCommit) -> None:
    svc = people

    def broken(conn: Connection) -> None:
        conn.execute(update(accounts_table).values(name="half-way"))
        raise RuntimeError("broken half-way")

    async def run() -> list[object]:
        stored = [delivery.store(svc, writer, _raw(n), b"", {BOB: BOB},
                                 all_or_nothing=True) for n in range(4)]
        return await asyncio.gather(*stored[:2], writer.run(broken), *stored[2:],
                                    return_exceptions=True)

    results = asyncio.run(run())
    assert isinstance(results[2], RuntimeError)
    assert all(isinstance(r, delivery.Outcome) and not r.refused
               for i, r in enumerate(results) if i != 2)
    assert _subjects(svc, BOB) == Counter(f"load {n}" for n in range(4))
    with svc.engine.connect() as conn:  # the broken update left nothing
        assert not conn.execute(select(accounts_table.c.id).where(
            accounts_table.c.name == "half-way")).first()


def test_a_failed_commit_fails_every_delivery_of_its_batch(
        people: Service, writer: GroupCommit) -> None:
    svc = people
    failures = [1]

    @event.listens_for(svc.engine, "commit")
    def _fail_once(conn: Connection) -> None:
        if failures[0]:
            failures[0] -= 1
            raise OSError("disk full")

    async def run() -> list[object]:
        return await asyncio.gather(*[
            delivery.store(svc, writer, _raw(n), b"", {ALICE: ALICE}, all_or_nothing=True)
            for n in range(5)], return_exceptions=True)

    results = asyncio.run(run())
    failed = [r for r in results if isinstance(r, OSError)]
    assert failed, results  # the first batch (at least its first delivery) failed...
    stored = _subjects(svc, ALICE)
    assert sum(stored.values()) == len(results) - len(failed)  # ...and nothing of it stayed
    assert all(isinstance(r, delivery.Outcome) for r in results if r not in failed)


def _arrival(svc: Service, n: int, to: dict[str, str]) -> delivery.Rows:
    digest, _, parsed = store_messages.prepare(svc, _raw(n))
    return delivery.Rows((digest, parsed, Incoming(_raw(n))), to, svc.clock(),
                         all_or_nothing=True)


def _submission(svc: Service, n: int, sender: str, to: str) -> delivery.Rows:
    """A submission's rows: the recipient's copy, the sender's Sent copy, audit and count."""
    digest, _, parsed = store_messages.prepare(svc, _raw(n))
    with svc.engine.connect() as conn:
        account_id = int(account_row(conn, sender).id)
    audit = {"at": svc.clock(), "actor": sender, "role": "user", "action": "send",
             "account": sender, "details": {"n": n}}
    item = (digest, parsed, Incoming(_raw(n)))
    return delivery.Rows(item, {to: to}, svc.clock(), all_or_nothing=True,
                         sent=(delivery.SentCopy(account_id, audit, 1),
                               (digest, parsed, Incoming(_raw(n), delivery.SEEN))))


def test_submissions_are_stored_together_with_their_sent_copies_audit_and_counts(
        people: Service) -> None:
    svc = people
    counts = []
    for size in (2, 20):
        works = [_submission(svc, size * 100 + n, (ALICE, BOB)[n % 2], (BOB, ALICE)[n % 2])
                 for n in range(size)]
        with counting(svc) as seen:
            outcomes = commit_together(svc.engine, works)
        assert all(isinstance(o, delivery.Outcome) and not o.refused for o in outcomes)
        counts.append(seen.count)
    assert counts[0] == counts[1], counts
    assert sum(_subjects(svc, ALICE).values()) == sum(_subjects(svc, BOB).values()) == 11
    with svc.engine.connect() as conn:
        sent = conn.execute(select(blobs.c.subject, messages.c.flags).join(
            messages, messages.c.digest == blobs.c.digest).join(
            folders, folders.c.id == messages.c.folder_id).where(
            folders.c.special_use == "\\Sent").order_by(messages.c.id)).all()
        assert len(sent) == 22 and {f for _, f in sent} == {"\\Seen"}
        assert conn.execute(select(func.count()).select_from(sends)).scalar() == 22
        details = conn.execute(select(audit_log.c.details).where(
            audit_log.c.action == "send").order_by(audit_log.c.id)).scalars().all()
    assert [json.loads(d)["n"] for d in details] == [
        size * 100 + n for size in (2, 20) for n in range(size)]
    assert check_chain(svc, Actor.system())[1] == []


def test_arrivals_for_inboxes_are_stored_together_in_a_fixed_number_of_statements(
        people: Service) -> None:
    svc = people
    counts = []
    for size in (2, 20):
        works = [_arrival(svc, size * 100 + n, {ALICE: ALICE, BOB: BOB}) for n in range(size)]
        with counting(svc) as seen:
            outcomes = commit_together(svc.engine, works)
        assert all(isinstance(o, delivery.Outcome) and not o.refused for o in outcomes)
        counts.append(seen.count)
    assert counts[0] == counts[1], counts
    for address in (ALICE, BOB):
        assert _subjects(svc, address) == Counter(
            f"load {size * 100 + n}" for size in (2, 20) for n in range(size))
    with svc.engine.connect() as conn:  # UIDs in arrival order
        inbox = folder_id(conn, account_row(conn, ALICE).id, "INBOX")
        subjects = conn.execute(select(blobs.c.subject).join(
            messages, messages.c.digest == blobs.c.digest).where(
            messages.c.folder_id == inbox).order_by(messages.c.uid)).scalars().all()
    assert subjects == [f"load {size * 100 + n}" for size in (2, 20) for n in range(size)]


def test_when_storing_together_fails_each_arrival_is_stored_on_its_own(
        people: Service) -> None:
    svc = people
    with svc.engine.begin() as conn:  # bob's INBOX is gone: storing there raises
        conn.execute(delete(messages))
        conn.execute(delete(folders).where(folders.c.account_id == account_row(conn, BOB).id,
                                           folders.c.name == "INBOX"))
    works = [_arrival(svc, n, {BOB: BOB} if n == 2 else {ALICE: ALICE}) for n in range(5)]
    outcomes = commit_together(svc.engine, works)
    assert [type(o).__name__ for o in outcomes] == [
        "Outcome", "Outcome", "_Failed", "Outcome", "Outcome"]
    assert _subjects(svc, ALICE) == Counter(f"load {n}" for n in (0, 1, 3, 4))

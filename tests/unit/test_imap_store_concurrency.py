"""Two sessions changing one folder at once on PostgreSQL (READ COMMITTED): the second
waits for the first and then works on what the first committed — no lost flag update,
no UID expunged twice. (SQLite writers are serialised by BEGIN IMMEDIATE.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, text

from mailgate.service import Service
from mailgate.store.flags import FlagOperation
from mailgate.store.folders import RECOVERABLE, folder_id
from mailgate.store.selected import snapshot
from mailgate.store.transfer import expunge, store_flags
from mailgate.store.uidsets import UidSet
from mailstore import fill, folder, new_account

NOW = float(int(time.time()))
DEADLINE = 60.0


@pytest.fixture
def mailbox(svc: Service) -> tuple[Service, int]:
    if svc.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    return svc, new_account(svc)


def _blocked_sessions(svc: Service) -> int:
    with svc.engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")).scalar_one())


def second_waits_for_first(svc: Service, first: Callable[[Connection], object],
                           second: Callable[[Connection], object]) -> object:
    """Run `first` in an open transaction, start `second` in another thread, wait until it
    is blocked on a lock, commit the first; return what the second returned."""
    outcome: dict[str, object] = {}

    def run_second() -> None:
        try:
            with svc.engine.begin() as conn:
                outcome["value"] = second(conn)
        except Exception as exc:  # reported below
            outcome["error"] = exc

    with svc.engine.begin() as conn:
        first(conn)
        worker = threading.Thread(target=run_second)
        worker.start()
        deadline = time.monotonic() + DEADLINE
        while _blocked_sessions(svc) == 0:
            assert worker.is_alive(), outcome
            assert time.monotonic() < deadline, "the second session never waited"
            time.sleep(0.01)
    worker.join(DEADLINE)
    assert not worker.is_alive() and "error" not in outcome, outcome
    return outcome["value"]


def test_concurrent_stores_on_one_folder_lose_no_flag(mailbox):
    svc, account = mailbox
    fill(svc, "INBOX", 3)
    inbox = folder(svc, account, "INBOX").id
    second_waits_for_first(
        svc,
        lambda c: store_flags(c, inbox, UidSet.of([(1, 3)]), FlagOperation.ADD, ["\\Seen"]),
        lambda c: store_flags(c, inbox, UidSet.of([(1, 3)]), FlagOperation.ADD, ["$Work"]))
    with svc.reader.connect() as conn:
        shot = snapshot(conn, inbox)
    assert shot.flags == ["\\Seen $Work"] * 3
    assert len(set(shot.modseqs)) == 1 and shot.modseqs[0] == shot.mark.highestmodseq


def test_concurrent_expunges_move_each_message_once(mailbox):
    svc, account = mailbox
    fill(svc, "INBOX", 3, flags=("\\Deleted",))
    inbox = folder(svc, account, "INBOX").id
    later = second_waits_for_first(svc, lambda c: expunge(c, account, inbox, None, NOW),
                                   lambda c: expunge(c, account, inbox, None, NOW))
    assert later == []
    with svc.reader.connect() as conn:
        assert len(snapshot(conn, inbox)) == 0
        assert len(snapshot(conn, folder_id(conn, account, RECOVERABLE))) == 3

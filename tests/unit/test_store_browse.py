"""What the webmail reads and changes (`store.browse`), on every backend: folder summaries,
a page sorted, searched and paged by the database, and flag / move / delete by message id,
never across accounts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailgate.db.schema import messages
from mailgate.directory.errors import NotFound
from mailgate.service import Service
from mailgate.store import browse
from mailgate.store.errors import MailboxNotFound
from mailgate.store.messages import list_recoverable
from mailstore import ADDRESS, fill, new_account

OTHER = "noa@example.test"


def ids(svc: Service, account_id: int, folder: str = "INBOX", **options: object) -> list[int]:
    with svc.reader.connect() as conn:
        return [int(r.id) for r in browse.page(conn, account_id, folder, **options).rows]  # type: ignore[arg-type]


def test_summaries_count_unread_and_put_inbox_and_special_folders_first(svc: Service) -> None:
    mia = new_account(svc)
    fill(svc, "INBOX", 3)
    fill(svc, "INBOX", 2, flags=("\\Seen",), start=3)
    fill(svc, "Zebra", 1, start=5)
    fill(svc, "Alpha", 1, flags=("\\Seen",), start=6)
    with svc.reader.connect() as conn:
        found = browse.folder_summaries(conn, mia)
    assert [(f.name, f.messages, f.unseen) for f in found] == [
        ("INBOX", 5, 3), ("Drafts", 0, 0), ("Sent", 0, 0), ("Archive", 0, 0), ("Junk", 0, 0),
        ("Deleted Items", 0, 0), ("Alpha", 1, 0), ("Zebra", 1, 1)]


def test_a_page_is_sorted_and_paged_by_the_database_and_search_uses_the_index(
        svc: Service) -> None:
    mia = new_account(svc)
    fill(svc, "INBOX", 120)
    newest = ids(svc, mia, limit=50)
    assert len(newest) == 50 and newest == sorted(newest, reverse=True)
    third = ids(svc, mia, offset=100, limit=50)
    assert len(third) == 20 and max(third) < min(newest)
    with svc.reader.connect() as conn:
        by_subject = browse.page(conn, mia, "INBOX", sort="subject", descending=False,
                                 limit=3)
        assert [r.subject for r in by_subject.rows] == ["message 0", "message 1",
                                                        "message 10"]
        found = browse.page(conn, mia, "INBOX", text="BODY OF MESSAGE 11", limit=5)
        assert found.total == 11 and [r.subject for r in found.rows][:2] == [
            "message 119", "message 118"]
        second = browse.page(conn, mia, "INBOX", text="body of message 11", offset=10)
        assert [r.subject for r in second.rows] == ["message 11"]
        with pytest.raises(MailboxNotFound):
            browse.page(conn, mia, "Recoverable Items")


def test_flags_moves_and_deletes_touch_only_the_accounts_own_messages(svc: Service) -> None:
    mia = new_account(svc)
    noa = new_account(svc, OTHER)
    fill(svc, "INBOX", 3)
    fill(svc, "INBOX", 1, address=OTHER, start=10)
    mine = ids(svc, mia)
    [theirs] = ids(svc, noa)
    now = svc.clock()
    with svc.engine.begin() as conn:
        assert browse.set_flag(conn, mia, [*mine, theirs], "\\Flagged", True) == 3
        assert browse.move_to(conn, mia, [mine[0], theirs], "Archive", now) == 1
        assert browse.delete(conn, mia, [mine[1], theirs], now) == 1
    with svc.reader.connect() as conn:
        assert browse.message(conn, noa, theirs).flags == ""
        with pytest.raises(NotFound):
            browse.message(conn, mia, theirs)
        assert [r.subject for r in browse.page(conn, mia, "Deleted Items").rows] == [
            "message 1"]
    [deleted] = ids(svc, mia, "Deleted Items")
    with svc.engine.begin() as conn:
        assert browse.delete(conn, mia, [deleted], now) == 1
    assert [r.subject for r in list_recoverable(svc, ADDRESS)] == ["message 1"]
    with svc.reader.connect() as conn:
        with pytest.raises(NotFound):  # Recoverable Items is not read through the webmail
            browse.message(conn, mia, deleted)
        flags = conn.execute(select(messages.c.flags).where(
            messages.c.id == mine[2])).scalar_one()
    assert flags == "\\Flagged"

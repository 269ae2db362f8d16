"""Folder-level IMAP operations on the real store, on every backend: LIST, CREATE, DELETE,
RENAME (INBOX included), SUBSCRIBE, STATUS, QUOTA, and UIDVALIDITY across them."""

from __future__ import annotations

import json
import time

import pytest

from mailgate.mime import to_crlf
from mailgate.service import Service
from mailgate.store import mailboxes as mb
from mailgate.store.errors import (
    InvalidMailboxName,
    MailboxCannot,
    MailboxExists,
    MailboxHasChildren,
    MailboxNotFound,
    UnsupportedSpecialUse,
)
from mailgate.store.flags import FlagOperation
from mailgate.store.names import pattern_matcher
from mailgate.store.selected import changes_since, snapshot
from mailgate.store.transfer import store_flags
from mailgate.store.uidsets import UidSet
from mailstore import ADDRESS, fill, folder, mailgate_cli, message, new_account

NOW = float(int(time.time()))  # `recover list` (another clock) must see it as recent


@pytest.fixture
def mailbox(svc: Service) -> tuple[Service, int]:
    svc.clock = lambda: NOW  # one second for everything: UIDVALIDITY must still be new
    return svc, new_account(svc)


def listed(svc: Service, account: int, subscribed_only: bool = False
           ) -> dict[str, tuple[str, ...]]:
    with svc.reader.connect() as conn:
        return {e.name: e.attributes(extended=True, subscribed=True)
                for e in mb.list_mailboxes(conn, account, subscribed_only)}


def test_list_shows_the_default_folders_with_special_use_and_never_recoverable_items(mailbox):
    svc, account = mailbox
    assert listed(svc, account) == {
        "INBOX": ("\\Subscribed", "\\HasNoChildren"),
        "Archive": ("\\Subscribed", "\\HasNoChildren", "\\Archive"),
        "Deleted Items": ("\\Subscribed", "\\HasNoChildren", "\\Trash"),
        "Drafts": ("\\Subscribed", "\\HasNoChildren", "\\Drafts"),
        "Junk": ("\\Subscribed", "\\HasNoChildren", "\\Junk"),
        "Sent": ("\\Subscribed", "\\HasNoChildren", "\\Sent"),
    }
    with svc.reader.connect() as conn:
        assert mb.list_mailboxes(conn, account)[0].name == "INBOX"
        with pytest.raises(MailboxNotFound):
            mb.find_mailbox(conn, account, "Recoverable Items")
        assert "Recoverable Items" not in mb.status(conn, account)


def test_create_makes_missing_parents_and_the_new_folder_is_empty(mailbox):
    svc, account = mailbox
    with svc.engine.begin() as conn:
        mb.create_mailbox(conn, account, "Projects/2026/Q1", NOW)
        mb.create_mailbox(conn, account, "Receipts", NOW, special_use="\\archive")
    found = listed(svc, account)
    assert found["Projects"] == ("\\HasChildren",)
    assert found["Projects/2026"] == ("\\HasChildren",)
    assert found["Projects/2026/Q1"] == ("\\HasNoChildren",)
    assert found["Receipts"] == ("\\HasNoChildren", "\\Archive")
    q1 = folder(svc, account, "Projects/2026/Q1")
    assert (q1.uidnext, q1.highestmodseq) == (1, 1)


@pytest.mark.parametrize(("name", "error"), [
    ("", InvalidMailboxName),
    ("/Top", InvalidMailboxName),
    ("Trailing/", InvalidMailboxName),
    ("a//b", InvalidMailboxName),
    ("bell\x07", InvalidMailboxName),
    ("line\r\nbreak", InvalidMailboxName),
    ("wild*", InvalidMailboxName),
    ("per%cent", InvalidMailboxName),
    ("x" * 256, InvalidMailboxName),
    ("recoverable items", InvalidMailboxName),
    ("Recoverable Items/inside", InvalidMailboxName),
    ("Sent", MailboxExists),
    ("inbox", MailboxExists),
    ("INBOX", MailboxExists),
])
def test_create_refuses_bad_and_existing_names_with_their_own_error(mailbox, name, error):
    svc, account = mailbox
    with pytest.raises(error) as refused, svc.engine.begin() as conn:
        mb.create_mailbox(conn, account, name, NOW)
    assert "\r" not in str(refused.value) and "\n" not in str(refused.value)
    assert refused.value.code in {"CANNOT", "ALREADYEXISTS"}
    assert len(listed(svc, account)) == 6


def test_create_with_an_unknown_special_use_is_useattr(mailbox):
    svc, account = mailbox
    with pytest.raises(UnsupportedSpecialUse) as refused, svc.engine.begin() as conn:
        mb.create_mailbox(conn, account, "Everything", NOW, special_use="\\All")
    assert refused.value.code == "USEATTR"


def test_delete_moves_the_messages_to_recoverable_items_where_recover_sees_them(
        mailbox, monkeypatch):
    svc, account = mailbox
    fill(svc, "Old", 3)
    with svc.engine.begin() as conn:
        assert mb.delete_mailbox(conn, account, "Old", NOW) == 3
    assert "Old" not in listed(svc, account)
    shown = mailgate_cli(svc, monkeypatch, "recover", "list", ADDRESS, "--json")
    assert shown.returncode == 0, shown.stderr
    assert sorted(i["subject"] for i in json.loads(shown.stdout)) == [
        "message 0", "message 1", "message 2"]


def test_inbox_cannot_be_deleted_and_a_missing_name_is_nonexistent(mailbox):
    svc, account = mailbox
    for name, error in (("inbox", MailboxCannot), ("Nowhere", MailboxNotFound),
                        ("Recoverable Items", MailboxNotFound)):
        with pytest.raises(error), svc.engine.begin() as conn:
            mb.delete_mailbox(conn, account, name, NOW)
    assert "INBOX" in listed(svc, account)


def test_delete_with_children_leaves_a_noselect_parent_like_dovecot(mailbox):
    svc, account = mailbox
    with svc.engine.begin() as conn:
        mb.create_mailbox(conn, account, "Work/Clients", NOW)
    fill(svc, "Work", 2)
    with svc.engine.begin() as conn:
        assert mb.delete_mailbox(conn, account, "Work", NOW) == 2
    found = listed(svc, account)
    assert found["Work"] == ("\\Noselect", "\\HasChildren")
    with svc.reader.connect() as conn, pytest.raises(MailboxNotFound):
        mb.find_mailbox(conn, account, "Work")
    with pytest.raises(MailboxHasChildren) as refused, svc.engine.begin() as conn:
        mb.delete_mailbox(conn, account, "Work", NOW)
    assert refused.value.code == "HASCHILDREN"
    with svc.engine.begin() as conn:
        mb.delete_mailbox(conn, account, "Work/Clients", NOW)
    assert "Work" not in listed(svc, account)


def test_a_name_created_again_gets_a_new_uidvalidity_even_in_the_same_second(mailbox):
    svc, account = mailbox
    seen = set()
    for _ in range(3):
        with svc.engine.begin() as conn:
            mb.create_mailbox(conn, account, "Again", NOW)
        seen.add(folder(svc, account, "Again").uidvalidity)
        with svc.engine.begin() as conn:
            mb.delete_mailbox(conn, account, "Again", NOW)
    with svc.engine.begin() as conn:
        mb.create_mailbox(conn, account, "Elsewhere", NOW)
        mb.rename_mailbox(conn, account, "Elsewhere", "Again", NOW)
        mb.create_mailbox(conn, account, "Elsewhere", NOW)
    seen.add(folder(svc, account, "Again").uidvalidity)
    seen.add(folder(svc, account, "Elsewhere").uidvalidity)
    assert len(seen) == 5


def test_rename_takes_children_keeps_uidvalidity_uids_and_subscriptions(mailbox):
    svc, account = mailbox
    with svc.engine.begin() as conn:
        mb.create_mailbox(conn, account, "Team/Notes", NOW)
        mb.subscribe(conn, account, "Team/Notes")
    fill(svc, "Team", 2)
    before = folder(svc, account, "Team")
    with svc.engine.begin() as conn:
        mb.rename_mailbox(conn, account, "Team", "Archive/2025/Team", NOW)
    found = listed(svc, account)
    assert "Team" not in found and "Team/Notes" not in found
    assert found["Archive/2025/Team/Notes"] == ("\\Subscribed", "\\HasNoChildren")
    assert found["Archive/2025"] == ("\\HasChildren",)
    after = folder(svc, account, "Archive/2025/Team")
    assert (after.id, after.uidvalidity, after.uidnext) == (
        before.id, before.uidvalidity, before.uidnext)
    with svc.reader.connect() as conn:
        assert list(snapshot(conn, after.id).uids) == [1, 2]


@pytest.mark.parametrize(("old", "new", "error"), [
    ("Nowhere", "Somewhere", MailboxNotFound),
    ("Recoverable Items", "Mine", MailboxNotFound),
    ("Sent", "Drafts", MailboxExists),
    ("Sent", "Sent", MailboxExists),
    ("Sent", "inbox", MailboxExists),
    ("Sent", "Sent/Inside", MailboxCannot),
    ("Sent", "Recoverable Items", InvalidMailboxName),
    ("Sent", "bad//name", InvalidMailboxName),
])
def test_rename_refusals_change_nothing(mailbox, old, new, error):
    svc, account = mailbox
    with pytest.raises(error), svc.engine.begin() as conn:
        mb.rename_mailbox(conn, account, old, new, NOW)
    assert set(listed(svc, account)) == {"INBOX", "Sent", "Drafts", "Deleted Items", "Junk",
                                         "Archive"}


def test_rename_to_its_own_parent_level_is_refused(mailbox):
    svc, account = mailbox
    with svc.engine.begin() as conn:
        mb.create_mailbox(conn, account, "a/b", NOW)
    with pytest.raises(MailboxExists), svc.engine.begin() as conn:
        mb.rename_mailbox(conn, account, "a/b", "a", NOW)


def test_renaming_inbox_moves_its_messages_and_leaves_it_empty(mailbox):
    svc, account = mailbox
    fill(svc, "INBOX", 3)
    with svc.engine.begin() as conn:
        mb.create_mailbox(conn, account, "INBOX/Child", NOW)
    inbox = folder(svc, account, "INBOX")
    with svc.engine.begin() as conn:
        store_flags(conn, inbox.id, UidSet.of([2]), FlagOperation.ADD, ["\\Seen"])
        mb.rename_mailbox(conn, account, "inbox", "Old Inbox", NOW)
    moved = folder(svc, account, "Old Inbox")
    after = folder(svc, account, "INBOX")
    assert after.id == inbox.id and after.uidvalidity == inbox.uidvalidity
    assert after.uidnext == inbox.uidnext  # UIDs are never given out twice
    assert moved.uidvalidity != inbox.uidvalidity
    with svc.reader.connect() as conn:
        assert len(snapshot(conn, inbox.id)) == 0
        kept = snapshot(conn, moved.id)
        assert list(kept.uids) == [1, 2, 3] and kept.flags[1] == "\\Seen"
        gone = changes_since(conn, inbox.id, inbox.uidnext, inbox.highestmodseq)
        assert gone.vanished == [1, 2, 3]
        assert mb.status(conn, account, ["Old Inbox"])["Old Inbox"].uidnext == inbox.uidnext
    assert listed(svc, account)["INBOX/Child"] == ("\\HasNoChildren",)
    assert listed(svc, account)["INBOX"] == ("\\Subscribed", "\\HasChildren")


def test_subscriptions_are_names_and_survive_delete(mailbox):
    svc, account = mailbox
    with svc.engine.begin() as conn:
        mb.subscribe(conn, account, "Not/Yet")
        mb.create_mailbox(conn, account, "Lists", NOW)
        mb.subscribe(conn, account, "Lists")
        mb.delete_mailbox(conn, account, "Lists", NOW)
        assert mb.unsubscribe(conn, account, "Junk") is True
        assert mb.unsubscribe(conn, account, "Junk") is False
    found = listed(svc, account, subscribed_only=True)
    assert found["Not/Yet"] == ("\\NonExistent", "\\Subscribed", "\\HasNoChildren")
    assert found["Lists"] == ("\\NonExistent", "\\Subscribed", "\\HasNoChildren")
    assert "Junk" not in found and "Junk" in listed(svc, account)
    with pytest.raises(InvalidMailboxName), svc.engine.begin() as conn:
        mb.subscribe(conn, account, "Recoverable Items")


def test_status_of_one_and_of_many_folders(mailbox):
    svc, account = mailbox
    fill(svc, "INBOX", 4)
    fill(svc, "Sent", 2, flags=("\\Seen",), start=10)
    inbox = folder(svc, account, "INBOX")
    with svc.engine.begin() as conn:
        store_flags(conn, inbox.id, UidSet.of([(1, 2)]), FlagOperation.ADD,
                    ["\\Seen", "\\Deleted"])
    with svc.reader.connect() as conn:
        one = mb.status(conn, account, ["inbox"])
        every = mb.status(conn, account)
    assert set(one) == {"INBOX"}
    got = one["INBOX"]
    # no read-write session has claimed them yet, so all four are \\Recent (RFC 3501)
    assert (got.messages, got.unseen, got.deleted, got.recent) == (4, 2, 2, 4)
    assert got.uidnext == 5 and got.uidvalidity == inbox.uidvalidity
    assert got.highestmodseq == folder(svc, account, "INBOX").highestmodseq
    assert got.size == sum(len(to_crlf(message(n))) for n in range(4))
    assert every["Sent"].unseen == 0 and every["Sent"].messages == 2
    assert every["Drafts"].messages == 0 and every["Drafts"].unseen == 0
    assert "Recoverable Items" not in every


def test_quota_counts_what_the_client_sees_in_kib(mailbox):
    svc, account = mailbox
    with svc.reader.connect() as conn:
        assert mb.quota_usage(conn, account) == mb.QuotaUsage(0, 0)
    fill(svc, "INBOX", 3)
    with svc.reader.connect() as conn:
        usage = mb.quota_usage(conn, account)
        size = mb.status(conn, account, ["INBOX"])["INBOX"].size
    assert usage == mb.QuotaUsage((size + 1023) // 1024, 3)
    fill(svc, "Trash me", 1, start=50)
    with svc.engine.begin() as conn:
        mb.delete_mailbox(conn, account, "Trash me", NOW)
    with svc.reader.connect() as conn:
        assert mb.quota_usage(conn, account).messages == 3


def test_list_patterns_follow_rfc3501():
    match = pattern_matcher("", "%")
    assert match("INBOX") and match("Sent") and not match("Work/Clients")
    assert pattern_matcher("", "*")("Work/Clients")
    assert pattern_matcher("Work/", "%")("Work/Clients")
    assert not pattern_matcher("Work/", "%")("Work/Clients/Big")
    assert pattern_matcher("", "inbox")("INBOX")
    assert pattern_matcher("", "INBOX/%")("INBOX/Sub")
    assert not pattern_matcher("", "sent")("Sent")  # only INBOX is case-insensitive
    assert pattern_matcher("", "a.b")("a.b") and not pattern_matcher("", "a.b")("axb")

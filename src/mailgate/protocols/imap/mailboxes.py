"""The IMAP commands on folders: CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST, LSUB, STATUS,
APPEND and QUOTA. Each is one store call in a worker thread, then its replies."""

from __future__ import annotations

import calendar
from typing import TYPE_CHECKING

from mailgate.mime.binaryparts import encode_binary_parts
from mailgate.protocols.imap import commands as c
from mailgate.protocols.imap.catenate import assemble
from mailgate.protocols.imap.wire import mailbox as wire_mailbox
from mailgate.store import mailboxes as store
from mailgate.store.errors import MailboxNotFound
from mailgate.store.messages import Incoming, MessageRejected
from mailgate.store.names import parents, pattern_matcher

if TYPE_CHECKING:
    from mailgate.protocols.imap.session import Handler, ImapSession

STATUS_ITEMS = ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT",
                "HIGHESTMODSEQ")


def _account(session: ImapSession) -> int:
    assert session.principal is not None
    return session.principal.account_id


async def create(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Create)
    use = command.special_use[0] if command.special_use else None
    await session.backend.write(store.create_mailbox, _account(session),
                                command.mailbox.rstrip("/"), session.backend.now(), use)
    session.ok(command.tag, "CREATE completed")


async def delete(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Delete)
    await session.backend.write(store.delete_mailbox, _account(session), command.mailbox,
                                session.backend.now())
    session.ok(command.tag, "DELETE completed")
    await session.report_changes()


async def rename(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Rename)
    await session.backend.write(store.rename_mailbox, _account(session), command.mailbox,
                                command.new_name, session.backend.now())
    await session.report_changes()
    session.ok(command.tag, "RENAME completed")


async def subscribe(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Subscribe)
    await session.backend.write(store.subscribe, _account(session), command.mailbox)
    session.ok(command.tag, "SUBSCRIBE completed")


async def unsubscribe(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Unsubscribe)
    await session.backend.write(store.unsubscribe, _account(session), command.mailbox)
    session.ok(command.tag, "UNSUBSCRIBE completed")


async def list_(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.List)
    if command.patterns == ("",):  # the hierarchy delimiter and root (RFC 9051 §6.3.9)
        session.send('* LIST (\\Noselect) "/" ""\r\n')
        session.ok(command.tag, "LIST completed")
        return
    subscribed_only = "SUBSCRIBED" in command.selection
    recursive = "RECURSIVEMATCH" in command.selection
    special_only = "SPECIAL-USE" in command.selection
    want_status = "STATUS" in command.returns
    account = _account(session)

    def load(conn):  # type: ignore[no-untyped-def]
        entries = store.list_mailboxes(conn, account, subscribed_only and not recursive)
        everything = store.list_mailboxes(conn, account) if subscribed_only else entries
        subscribed = {e.name for e in store.list_mailboxes(conn, account, True)} \
            if (subscribed_only or "SUBSCRIBED" in command.returns) else set()
        statuses = store.status(conn, account) if want_status else {}
        return entries, everything, subscribed, statuses

    entries, everything, subscribed, statuses = await session.backend.read(load)
    matchers = [pattern_matcher(command.reference, p) for p in command.patterns]
    show_subscribed = subscribed_only or "SUBSCRIBED" in command.returns
    for name, attributes, child_info in _listed(entries, everything, subscribed,
                                                subscribed_only, recursive):
        if not any(match(name.name) for match in matchers):
            continue
        if special_only and not name.special_use:
            continue
        if child_info and all(any(match(sub) for match in matchers)
                              for sub in subscribed if sub.startswith(name.name + "/")):
            continue  # its subscribed children are all listed themselves (RFC 5258 §3.5)
        extra = ' ("CHILDINFO" ("SUBSCRIBED"))' if child_info else ""
        flags = list(attributes)
        if show_subscribed and name.name in subscribed and "\\Subscribed" not in flags:
            flags.append("\\Subscribed")
        if not command.extended and not show_subscribed:
            flags = [f for f in flags if f != "\\Subscribed"]
        session.send(f"* LIST ({' '.join(flags)}) \"/\" "
                     f"{wire_mailbox(name.name, utf8=session.utf8)}{extra}\r\n")
        status = statuses.get(name.name)
        if want_status and status is not None and name.exists:
            session.send(status_line(session, name.name, status, command.status_items))
    session.ok(command.tag, "LIST completed")


def _listed(entries: list[store.MailboxEntry], everything: list[store.MailboxEntry],
            subscribed: set[str], subscribed_only: bool, recursive: bool
            ) -> list[tuple[store.MailboxEntry, tuple[str, ...], str]]:
    """(entry, attributes, child-info) for each name LIST may show."""
    if subscribed_only and recursive:
        by_name = {e.name: e for e in everything}
        names = {e.name for e in everything if e.name in subscribed} | \
            {n for n in subscribed if n not in by_name}
        out = []
        for entry in everything:
            children = any(s.startswith(entry.name + "/") for s in subscribed)
            if entry.name in names:
                out.append((entry, entry.attributes(True, True), ""))
            elif children:
                out.append((entry, entry.attributes(True, False), "SUBSCRIBED"))
        for name in sorted(n for n in names if n not in by_name):
            ghost = store.MailboxEntry(name, None, True, False, False)
            out.append((ghost, ghost.attributes(True, True), ""))
        return out
    extended = subscribed_only
    return [(e, e.attributes(extended, subscribed_only), "") for e in entries]


async def lsub(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Lsub)
    account = _account(session)
    entries = await session.backend.read(store.list_mailboxes, account, True)
    match = pattern_matcher(command.reference, command.pattern)
    shown: dict[str, str] = {}
    subscribed = {entry.name for entry in entries}
    for entry in entries:
        if match(entry.name):
            shown[entry.name] = "" if entry.exists else "\\Noselect"
        elif "%" in command.pattern:  # RFC 3501 §6.3.9: the level % stopped at
            for parent in parents(entry.name):
                if match(parent) and parent not in subscribed:
                    shown.setdefault(parent, "\\Noselect")
    for name in sorted(shown):
        session.send(f"* LSUB ({shown[name]}) \"/\" {wire_mailbox(name, utf8=session.utf8)}\r\n")
    session.ok(command.tag, "LSUB completed")


async def status(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Status)
    account = _account(session)

    def load(conn):  # type: ignore[no-untyped-def]
        folder = store.find_mailbox(conn, account, command.mailbox)
        return folder.name, store.status(conn, account, [folder.name])[folder.name]

    name, found = await session.backend.read(load)
    session.send(status_line(session, name, found, command.items))
    session.ok(command.tag, "STATUS completed")


def status_line(session: ImapSession, name: str, found: store.MailboxStatus,
                 items: tuple[str, ...]) -> str:
    values = {"MESSAGES": found.messages, "UIDNEXT": found.uidnext,
              "UIDVALIDITY": found.uidvalidity, "UNSEEN": found.unseen,
              "DELETED": found.deleted, "SIZE": found.size, "RECENT": found.recent,
              "HIGHESTMODSEQ": found.highestmodseq,
              "APPENDLIMIT": session.backend.max_message_bytes}
    shown = " ".join(f"{item} {values[item]}" for item in items if item in values)
    return f"* STATUS {wire_mailbox(name, utf8=session.utf8)} ({shown})\r\n"


async def append(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Append)
    items = []
    try:
        if any(m.catenate is not None for m in command.messages):  # [TRYCREATE] goes first
            await session.backend.read(store.find_mailbox, _account(session), command.mailbox)
    except MailboxNotFound as error:
        session.no(command.tag, f"[TRYCREATE] {error}")
        return
    for message in command.messages:
        data = encode_binary_parts(message.data) if message.binary else message.data
        if message.catenate is not None:
            data = await session.backend.read(assemble, session.backend.blobs,
                                              _account(session), message.catenate, session.utf8)
        if not data:
            session.no(command.tag, "[CANNOT] An empty message cannot be stored")
            return
        when = None if message.internal_date is None else \
            float(calendar.timegm(message.internal_date.utctimetuple()))
        items.append(Incoming(data, message.flags, when))
    try:
        result = await session.backend.append(_account(session), command.mailbox, items)
    except MailboxNotFound as error:
        session.no(command.tag, f"[TRYCREATE] {error}")
        return
    except MessageRejected as error:
        session.no(command.tag, f"[TOOBIG] {error}" if "large" in str(error) else str(error))
        return
    await session.report_changes()
    uids = ",".join(map(str, result.destination_uids))
    session.ok(command.tag, f"[APPENDUID {result.uidvalidity} {uids}] APPEND completed")


async def getquota(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.GetQuota)
    if command.root != "":
        session.no(command.tag, "[NONEXISTENT] No such quota root")
        return
    await _quota(session, command.tag)


async def getquotaroot(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.GetQuotaRoot)
    account = _account(session)
    folder = await session.backend.read(store.find_mailbox, account, command.mailbox)
    session.send(f'* QUOTAROOT {wire_mailbox(folder.name, utf8=session.utf8)} ""\r\n')
    await _quota(session, command.tag)


async def _quota(session: ImapSession, tag: str) -> None:
    usage = await session.backend.read(store.quota_usage, _account(session))
    session.send(f'* QUOTA "" (STORAGE {usage.storage_kib} {session.backend.quota_kib})\r\n')
    session.ok(tag, "GETQUOTA completed")


async def setquota(session: ImapSession, command: c.Command) -> None:
    session.no(command.tag, "[NOPERM] Quotas are set by the mail team")


COMMANDS: dict[type, Handler] = {
    c.Create: create, c.Delete: delete, c.Rename: rename, c.Subscribe: subscribe,
    c.Unsubscribe: unsubscribe, c.List: list_, c.Lsub: lsub, c.Status: status,
    c.Append: append, c.GetQuota: getquota, c.GetQuotaRoot: getquotaroot,
    c.SetQuota: setquota,
}

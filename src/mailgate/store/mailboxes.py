"""Folder-level IMAP operations: LIST, CREATE, DELETE, RENAME, SUBSCRIBE, STATUS, QUOTA,
and the account marks NOTIFY watches.

Plain synchronous functions over a SQLAlchemy Connection; the caller owns the transaction
(`svc.engine.begin()` for changes, `svc.reader.connect()` for reads) and the async door
runs them with `asyncio.to_thread`. Each issues a fixed number of statements, whatever
the number of folders or messages.

Rules, following RFC 3501/9051 and Dovecot where the RFCs leave a choice:

- Names: see `store.names` (`/` separator, INBOX case-insensitive, Recoverable Items hidden).
- CREATE makes missing parents, as Dovecot does. A parent that has no folder of its own
  (made by an import, or left by DELETE) is listed `\\Noselect`; CREATE may make it real.
- DELETE never destroys mail: the folder's messages go to Recoverable Items. INBOX cannot
  be deleted. A folder with children is deleted and its name stays as a `\\Noselect`
  parent, as Dovecot does (RFC 3501 §6.3.4); deleting a name that is only such a parent
  is refused with HASCHILDREN while the children exist. Subscriptions are kept (§6.3.7).
- RENAME takes the children along and keeps UIDVALIDITY and UIDs (the folder and its
  messages are the same); any folder created later under the old name gets a new
  UIDVALIDITY. Renaming INBOX moves its messages to a new folder (a new UIDVALIDITY,
  same UIDs) and leaves INBOX empty (§6.3.5); INBOX's children stay. Subscriptions
  follow a renamed folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Connection,
    String,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import BindParameter

from mailgate.db.schema import expunged_uids, folders, messages, subscriptions
from mailgate.store.errors import (
    MailboxCannot,
    MailboxExists,
    MailboxHasChildren,
    MailboxNotFound,
    UnsupportedSpecialUse,
    shown,
)
from mailgate.store.flags import has_flag
from mailgate.store.folders import RECOVERABLE, folder_id, insert_folders, subscribe_names
from mailgate.store.messages import lock_folders, move_where
from mailgate.store.names import (
    INBOX,
    check_new_name,
    is_inside,
    is_reserved,
    normalise,
    parents,
)
from mailgate.store.selected import FolderMark
from mailgate.store.sql import in_ids

#: The special uses CREATE accepts (RFC 6154); \All and \Flagged would be virtual folders.
SPECIAL_USES = ("\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash")


@dataclass(frozen=True)
class MailboxEntry:
    """One line of LIST / LSUB."""

    name: str
    special_use: str | None
    subscribed: bool
    has_children: bool
    exists: bool  # False: only a parent of others (\Noselect), or a subscribed name alone

    def attributes(self, extended: bool = False, subscribed: bool = False) -> tuple[str, ...]:
        """Name attributes: RFC 3501 \\Noselect, RFC 5258 (LIST-EXTENDED) \\NonExistent,
        \\Subscribed (asked for with `subscribed`), children, and RFC 6154 special use."""
        out: list[str] = []
        if not self.exists:
            out.append("\\NonExistent" if extended and not self.has_children else "\\Noselect")
        if subscribed and self.subscribed:
            out.append("\\Subscribed")
        out.append("\\HasChildren" if self.has_children else "\\HasNoChildren")
        if self.special_use:
            out.append(self.special_use)
        return tuple(out)


@dataclass(frozen=True)
class Folder:
    """A selectable folder and its IMAP identity."""

    id: int
    name: str
    special_use: str | None
    uidvalidity: int
    uidnext: int
    highestmodseq: int


@dataclass(frozen=True)
class MailboxStatus:
    """STATUS items (RFC 9051 §6.3.11, CONDSTORE, STATUS=SIZE, RFC 3501 RECENT)."""

    messages: int
    unseen: int
    deleted: int
    size: int
    uidnext: int
    uidvalidity: int
    highestmodseq: int
    recent: int = 0


@dataclass(frozen=True)
class AccountMarks:
    """What NOTIFY watches in an account (RFC 5465): each visible folder's name and mark by
    folder id, and the subscribed names. Equal marks: nothing a client could see changed."""

    folders: dict[int, tuple[str, FolderMark]]
    subscribed: frozenset[str]


@dataclass(frozen=True)
class QuotaUsage:
    """QUOTA (RFC 9208) usage of the account: STORAGE in KiB and MESSAGE count, over every
    folder the client sees (Recoverable Items is kept apart, as Exchange does)."""

    storage_kib: int
    messages: int


def _visible(account_id: int | BindParameter[int]):  # type: ignore[no-untyped-def]
    return (folders.c.account_id == account_id) & (folders.c.name != RECOVERABLE)


def _sort_key(name: str) -> tuple[bool, str]:
    return (name != INBOX, name)


def list_mailboxes(conn: Connection, account_id: int, subscribed_only: bool = False
                   ) -> list[MailboxEntry]:
    """Every folder a client sees, with the parents they imply; or, with subscribed_only
    (LSUB, LIST (SUBSCRIBED)), every subscribed name, existing or not. Two queries."""
    real = {r.name: r.special_use for r in conn.execute(
        select(folders.c.name, folders.c.special_use).where(_visible(account_id)))
        if not is_reserved(r.name)}
    subscribed = {n for n in conn.execute(select(subscriptions.c.name).where(
        subscriptions.c.account_id == account_id)).scalars() if not is_reserved(n)}
    with_children = {p for name in real for p in parents(name)}
    shown_names = subscribed if subscribed_only else set(real) | with_children
    return [MailboxEntry(name, real.get(name), name in subscribed, name in with_children,
                         name in real)
            for name in sorted(shown_names, key=_sort_key)]


# Built once: a statement object remembers its cache key, so running it again skips
# building the expression (most of the Python time of this look-up, run by every APPEND,
# SELECT, STATUS, COPY and MOVE).
_FIND = select(folders.c.id, folders.c.name, folders.c.special_use, folders.c.uidvalidity,
               folders.c.uidnext, folders.c.highestmodseq).where(
    _visible(bindparam("account")), folders.c.name == bindparam("name"))


def find_mailbox(conn: Connection, account_id: int, name: str) -> Folder:
    """The selectable folder of that name (SELECT, EXAMINE, APPEND/COPY/MOVE target)."""
    name = normalise(name)
    row = None if is_reserved(name) else conn.execute(
        _FIND, {"account": account_id, "name": name}).first()
    if row is None:
        raise MailboxNotFound(f"no mailbox {shown(name)}")
    return Folder(int(row.id), row.name, row.special_use, int(row.uidvalidity),
                  int(row.uidnext), int(row.highestmodseq))


def _special_use(value: str | None) -> str | None:
    if value is None:
        return None
    for use in SPECIAL_USES:
        if use.casefold() == value.casefold():
            return use
    raise UnsupportedSpecialUse(
        f"{shown(value)} is not a special use offered here ({' '.join(SPECIAL_USES)})")


def _existing(conn: Connection, account_id: int, names: list[str]) -> set[str]:
    if not names:
        return set()
    return set(conn.execute(select(folders.c.name).where(
        folders.c.account_id == account_id, folders.c.name.in_(names))).scalars())


def create_mailbox(conn: Connection, account_id: int, name: str, now: float,
                   special_use: str | None = None) -> int:
    """CREATE (with RFC 6154 USE); returns the new folder's id."""
    name = check_new_name(name)
    use = _special_use(special_use)
    if name == INBOX:
        raise MailboxExists("INBOX always exists")
    wanted = [*parents(name), name]
    existing = _existing(conn, account_id, wanted)
    if name in existing:
        raise MailboxExists(f"mailbox {shown(name)} already exists")
    missing = [(p, None) for p in wanted[:-1] if p not in existing]
    try:
        return insert_folders(conn, account_id, [*missing, (name, use)], now)[-1]
    except IntegrityError:  # created by another session meanwhile
        raise MailboxExists(f"mailbox {shown(name)} already exists") from None


def _children_exist(conn: Connection, account_id: int, name: str) -> bool:
    return conn.execute(select(folders.c.id).where(
        folders.c.account_id == account_id,
        folders.c.name.startswith(name + "/", autoescape=True)).limit(1)).first() is not None


def delete_mailbox(conn: Connection, account_id: int, name: str, now: float) -> int:
    """DELETE; returns how many messages went to Recoverable Items."""
    name = normalise(name)
    if name == INBOX:
        raise MailboxCannot("INBOX cannot be deleted")
    found = None if is_reserved(name) else conn.execute(select(folders.c.id).where(
        folders.c.account_id == account_id, folders.c.name == name)).scalar()
    if found is None:
        if not is_reserved(name) and _children_exist(conn, account_id, name):
            raise MailboxHasChildren(
                f"{shown(name)} has no messages of its own; delete its children first")
        raise MailboxNotFound(f"no mailbox {shown(name)}")
    bin_ = folder_id(conn, account_id, RECOVERABLE)
    moved = move_where(conn, messages.c.folder_id == found, bin_, now, to_recoverable=True,
                       sources=[int(found)])
    conn.execute(delete(folders).where(folders.c.id == found))
    return len(moved)


def rename_mailbox(conn: Connection, account_id: int, old: str, new: str, now: float) -> None:
    """RENAME, children included (see the module notes for INBOX and UIDVALIDITY)."""
    old, new = normalise(old), check_new_name(new)
    if is_reserved(old):
        raise MailboxNotFound(f"no mailbox {shown(old)}")
    if old == INBOX:
        _rename_inbox(conn, account_id, new, now)
        return
    if new in (old, INBOX) or is_inside(old, new):
        raise MailboxExists(f"mailbox {shown(new)} already exists")
    if is_inside(new, old):
        raise MailboxCannot(f"cannot move {shown(old)} into itself")
    moving = conn.execute(select(folders.c.id, folders.c.name).where(
        folders.c.account_id == account_id,
        (folders.c.name == old) | folders.c.name.startswith(old + "/", autoescape=True))).all()
    if not moving:
        raise MailboxNotFound(f"no mailbox {shown(old)}")
    renamed = {r.name: new + r.name[len(old):] for r in moving}
    clash = _existing(conn, account_id, [*renamed.values(), *parents(new)])
    taken = sorted(clash & set(renamed.values()))
    if taken:
        raise MailboxExists(f"mailbox {shown(taken[0])} already exists")
    missing = [(p, None) for p in parents(new) if p not in clash]
    if missing:
        insert_folders(conn, account_id, missing, now)
    conn.execute(update(folders).where(folders.c.id.in_([r.id for r in moving])).values(
        name=literal(new, String) + func.substr(folders.c.name, len(old) + 1, type_=String)))
    _move_subscriptions(conn, account_id, renamed)


def _move_subscriptions(conn: Connection, account_id: int, renamed: dict[str, str]) -> None:
    was = set(conn.execute(delete(subscriptions).where(
        subscriptions.c.account_id == account_id, subscriptions.c.name.in_(list(renamed)))
        .returning(subscriptions.c.name)).scalars())
    subscribe_names(conn, account_id, [renamed[n] for n in sorted(was)])


def _rename_inbox(conn: Connection, account_id: int, new: str, now: float) -> None:
    """RFC 3501 §6.3.5: INBOX's messages move to a new folder; INBOX stays, empty.

    The messages keep their UIDs in the new folder (it has a new UIDVALIDITY); INBOX
    remembers them as expunged, so a session that has INBOX selected sees them vanish.
    """
    target = create_mailbox(conn, account_id, new, now)
    inbox = folder_id(conn, account_id, INBOX)
    lock_folders(conn, [inbox, target])
    state = conn.execute(update(folders).where(folders.c.id == inbox).values(
        highestmodseq=folders.c.highestmodseq + 1).returning(
        folders.c.uidnext, folders.c.highestmodseq)).one()
    conn.execute(insert(expunged_uids).from_select(
        ["folder_id", "uid", "modseq"],
        select(messages.c.folder_id, messages.c.uid, literal(state.highestmodseq, BigInteger))
        .where(messages.c.folder_id == inbox)))
    conn.execute(update(messages).where(messages.c.folder_id == inbox).values(
        folder_id=target))
    conn.execute(update(folders).where(folders.c.id == target).values(
        uidnext=state.uidnext, highestmodseq=state.highestmodseq))


def subscribe(conn: Connection, account_id: int, name: str) -> None:
    """SUBSCRIBE: any valid name, whether a folder exists or not (RFC 9051 §6.3.7)."""
    subscribe_names(conn, account_id, [check_new_name(name)])


def unsubscribe(conn: Connection, account_id: int, name: str) -> bool:
    """UNSUBSCRIBE; False when the name was not subscribed."""
    gone = conn.execute(delete(subscriptions).where(
        subscriptions.c.account_id == account_id,
        subscriptions.c.name == normalise(name)))
    return bool(gone.rowcount)


def status(conn: Connection, account_id: int, names: Iterable[str] | None = None
           ) -> dict[str, MailboxStatus]:
    """STATUS of the named folders (all visible ones with None, for LIST-STATUS), in one
    query. A name without a folder is absent from the result."""
    counted = (select(folders.c.name, folders.c.uidvalidity, folders.c.uidnext,
                      folders.c.highestmodseq,
                      func.count(messages.c.id).label("messages"),
                      func.coalesce(func.sum(case((has_flag("\\Seen"), 0),
                                                  (messages.c.id.is_not(None), 1),
                                                  else_=0)), 0).label("unseen"),
                      func.coalesce(func.sum(case((has_flag("\\Deleted"), 1), else_=0)),
                                    0).label("deleted"),
                      func.coalesce(func.sum(messages.c.size), 0).label("size"),
                      func.coalesce(func.sum(case((messages.c.uid >= folders.c.recent_uid, 1),
                                                  else_=0)), 0).label("recent"))
               .select_from(folders)
               .outerjoin(messages, messages.c.folder_id == folders.c.id)
               .where(_visible(account_id))
               .group_by(folders.c.id, folders.c.name, folders.c.uidvalidity,
                         folders.c.uidnext, folders.c.highestmodseq, folders.c.recent_uid))
    if names is not None:
        wanted = [normalise(n) for n in names]
        if not wanted:
            return {}
        counted = counted.where(folders.c.name.in_(wanted))
    return {r.name: MailboxStatus(int(r.messages), int(r.unseen), int(r.deleted), int(r.size),
                                  int(r.uidnext), int(r.uidvalidity), int(r.highestmodseq),
                                  int(r.recent))
            for r in conn.execute(counted) if not is_reserved(r.name)}


def account_marks(conn: Connection, account_ids: Iterable[int]) -> dict[int, AccountMarks]:
    """For the poll of every account a NOTIFY session watches on this node: two queries."""
    wanted = sorted(set(account_ids))
    if not wanted:
        return {}
    out = {account: AccountMarks({}, frozenset()) for account in wanted}
    for r in conn.execute(select(folders.c.id, folders.c.account_id, folders.c.name,
                                 folders.c.uidvalidity, folders.c.uidnext,
                                 folders.c.highestmodseq)
                          .where(in_ids(conn, folders.c.account_id, wanted))):
        if not is_reserved(r.name):
            out[int(r.account_id)].folders[int(r.id)] = (r.name, FolderMark(
                int(r.uidvalidity), int(r.uidnext), int(r.highestmodseq)))
    subscribed: dict[int, set[str]] = {}
    for r in conn.execute(select(subscriptions.c.account_id, subscriptions.c.name)
                          .where(in_ids(conn, subscriptions.c.account_id, wanted))):
        if not is_reserved(r.name):
            subscribed.setdefault(int(r.account_id), set()).add(r.name)
    return {account: AccountMarks(marks.folders, frozenset(subscribed.get(account, ())))
            for account, marks in out.items()}


def quota_usage(conn: Connection, account_id: int) -> QuotaUsage:
    """The account's usage for GETQUOTA / GETQUOTAROOT, in one query."""
    row = conn.execute(select(func.coalesce(func.sum(messages.c.size), 0).label("size"),
                              func.count(messages.c.id).label("count"))
                       .join(folders, folders.c.id == messages.c.folder_id)
                       .where(_visible(account_id))).one()
    return QuotaUsage(storage_kib=(int(row.size) + 1023) // 1024, messages=int(row.count))

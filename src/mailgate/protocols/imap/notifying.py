"""NOTIFY (RFC 5465): one session told about changes anywhere in its account, unasked.

`notify` runs the command; a `Notifier` then lives with the session until NOTIFY NONE, the
next NOTIFY SET, an overflow or the end of the session. It watches through the server's
`FolderWatcher` like IDLE does: the account's marks (folders, their marks, subscriptions)
for the other mailboxes, and the selected folder's mark when the client asked for SELECTED
or SELECTED-DELAYED events. When one moves, it tells the client at once if no command is
running (or during IDLE), else right after the command:

- the selected mailbox: EXISTS, EXPUNGE (held back for SELECTED-DELAYED) and FETCH FLAGS
  (also without FlagChange: the session's view keeps one account of what it told), as
  `ImapSession.report_changes` writes them, plus a FETCH of MessageNew's items;
- other mailboxes: STATUS (MESSAGES UIDNEXT UIDVALIDITY, and HIGHESTMODSEQ with FlagChange)
  when messages arrived or left (MessageNew, MessageExpunge) or only flags changed
  (FlagChange); LIST for a mailbox created, deleted (\\NonExistent) or renamed (OLDNAME),
  MailboxName; LIST with or without \\Subscribed for SubscriptionChange.

Each mailbox follows the first event group whose filter matches it (so a group with NONE
before PERSONAL leaves its mailboxes out). INBOXES is INBOX: mail is delivered there only.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from mailgate.protocols.imap import commands as c
from mailgate.protocols.imap import fetching
from mailgate.protocols.imap.mailboxes import status_line
from mailgate.protocols.imap.messages import send_fetches
from mailgate.protocols.imap.notify import SELECTED_FILTERS
from mailgate.protocols.imap.view import MailboxView
from mailgate.protocols.imap.wire import mailbox as wire_mailbox
from mailgate.store import mailboxes as store
from mailgate.store.mailboxes import AccountMarks, account_marks
from mailgate.store.names import INBOX, SEPARATOR

if TYPE_CHECKING:
    from mailgate.protocols.imap.session import Handler, ImapSession

log = logging.getLogger("mailgate.imap")

SUPPORTED_EVENTS: Final = ("MessageNew", "MessageExpunge", "FlagChange", "MailboxName",
                           "SubscriptionChange")
MAX_MAILBOX_NAMES: Final = 1000  # SUBTREE and MAILBOXES names in one NOTIFY SET
MAX_RESPONSES: Final = 1000  # untagged responses in one report; more is an overflow
_MESSAGE_EVENTS: Final = frozenset({"MessageNew", "MessageExpunge", "FlagChange"})


async def notify(session: ImapSession, command: c.Command) -> None:
    assert isinstance(command, c.Notify)
    asked = {event for group in command.groups for event in group.events}
    if asked - set(SUPPORTED_EVENTS):
        session.no(command.tag, f"[BADEVENT ({' '.join(SUPPORTED_EVENTS)})] "
                                "Unsupported NOTIFY events")
        return
    if sum(len(group.mailboxes) for group in command.groups) > MAX_MAILBOX_NAMES:
        session.no(command.tag, "[NOTIFICATIONOVERFLOW] Too many mailbox names")
        return
    if session.notifier is not None:
        session.notifier.stop()
        session.notifier = None
    if command.groups:
        notifier = Notifier(session, command.groups)
        await notifier.start(send_status=command.status)
        session.notifier = notifier
    session.ok(command.tag, "NOTIFY completed")


@dataclass
class Notifier:
    """What one session asked NOTIFY for, and what it has been told so far."""

    session: ImapSession
    groups: tuple[c.NotifyGroup, ...]
    marks: AccountMarks = field(default_factory=lambda: AccountMarks({}, frozenset()))
    counts: dict[int, int] = field(default_factory=dict)  # folder id -> MESSAGES told
    _pending: bool = False
    _stopped: bool = False
    _selected_id: int | None = None  # the folder watched for SELECTED events
    _task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        assert self.session.principal is not None
        self.account = self.session.principal.account_id
        self.selected = next((g for g in self.groups if g.filter in SELECTED_FILTERS), None)
        self.others = tuple(g for g in self.groups if g.filter not in SELECTED_FILTERS)
        self.fetch_plan = fetching.plan(self.selected.fetch, True) \
            if self.selected is not None and self.selected.fetch else None

    @property
    def pushes_selected(self) -> bool:
        return self.selected is not None and bool(self.selected.events)

    @property
    def delays_expunges(self) -> bool:
        return self.selected is not None and self.selected.filter == "SELECTED-DELAYED"

    @property
    def watches_account(self) -> bool:
        return any(group.events for group in self.others)

    # -- the session's life ---------------------------------------------------------------

    async def start(self, *, send_status: bool) -> None:
        """Take the account's marks as told; with STATUS, tell the STATUS of each mailbox
        message events are wanted for (the selected one aside)."""
        account = self.account

        def load(conn):  # type: ignore[no-untyped-def]
            return account_marks(conn, [account])[account], store.status(conn, account)

        self.marks, statuses = await self.session.backend.read(load)
        self.counts = {fid: statuses[name].messages
                       for fid, (name, _) in self.marks.folders.items() if name in statuses}
        if send_status:
            selected_id = self._selected_folder()
            for fid, (name, _) in sorted(self.marks.folders.items(),
                                         key=lambda item: (item[1][0] != INBOX, item[1][0])):
                group = self.group_for(name, self.marks.subscribed)
                if fid != selected_id and name in statuses and group is not None \
                        and _MESSAGE_EVENTS & set(group.events):
                    self.session.send(self._status(name, statuses[name], group))
        self.arm()

    def stop(self) -> None:
        self._stopped = True
        watcher = self.session.backend.watcher
        watcher.unwatch_account(self.account, self._wake)
        if self._selected_id is not None:
            watcher.unwatch(self._selected_id, self._wake)
            self._selected_id = None

    def arm(self) -> None:
        """Watch (again) what this session wants to hear about, from the marks it was told."""
        if self._stopped or self.session.closed:
            return
        watcher = self.session.backend.watcher
        if self.watches_account:
            watcher.watch_account(self.account, self.marks, self._wake)
        view = self.session.view
        wanted = view.folder_id if view is not None and self.pushes_selected \
            and not (view.held_back and self.delays_expunges) else None  # a command tells
        if self._selected_id is not None and self._selected_id != wanted:
            watcher.unwatch(self._selected_id, self._wake)
        if view is not None and wanted is not None:
            watcher.watch(wanted, view.mark, self._wake)
        self._selected_id = wanted

    async def settle(self) -> None:
        """Wait for a report being written, so a command's replies never interleave it."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def command_done(self) -> None:
        """A command ended: what changed while it ran, or what it could not tell (expunges
        during FETCH, STORE, SEARCH), is told now."""
        view = self.session.view
        held = view is not None and view.held_back and self.pushes_selected \
            and not self.delays_expunges
        if (self._pending or held) and not self._stopped:
            self._pending = False
            await self.report()
        self.arm()

    def _wake(self) -> None:
        if self._stopped or self.session.closed:
            return
        if self.session.busy or self._task is not None:
            self._pending = True
            return
        self._task = asyncio.get_running_loop().create_task(self._report_now())

    async def _report_now(self) -> None:
        try:
            await self.report()
        except Exception:
            log.exception("imap session %s: NOTIFY report failed", self.session.id)
            self.session.bye("Internal server error; the session ends here.")
        finally:
            self._task = None
        if self._pending and not self.session.busy:
            self._pending = False
            self._wake()

    # -- reports ---------------------------------------------------------------------------

    async def report(self) -> None:
        """Tell what changed since the last report, then watch again."""
        session = self.session
        if self.pushes_selected and session.view is not None:
            await session.report_changes(
                expunges=not self.delays_expunges or session.idling)
        if self.watches_account and not self._stopped:
            lines = await self._account_changes()
            if len(lines) > MAX_RESPONSES:
                self.overflow()
                return
            for line in lines:
                session.send(line)
        await session.out.drain()
        self.arm()

    def overflow(self) -> None:
        """Too much to tell (RFC 5465 §5.8): say so and stop, as after NOTIFY NONE."""
        self.stop()
        if self.session.notifier is self:
            self.session.notifier = None
        self.session.send("* OK [NOTIFICATIONOVERFLOW] Too many changes; NOTIFY is off\r\n")

    async def fetch_new(self, view: MailboxView, after_uid: int) -> None:
        """MessageNew's FETCH items for the messages above `after_uid` just announced."""
        if self.fetch_plan is None or self._stopped:
            return
        fresh = list(view.uids[bisect.bisect_right(view.uids, after_uid):])
        if not fresh:
            return
        await send_fetches(self.session, view, fresh, self.fetch_plan, None, set())

    async def _account_changes(self) -> list[str]:
        account, told = self.account, self.marks

        def load(conn):  # type: ignore[no-untyped-def]
            marks = account_marks(conn, [account])[account]
            moved = [name for fid, (name, mark) in marks.folders.items()
                     if told.folders.get(fid) != (name, mark)]
            return marks, store.status(conn, account, moved)

        marks, statuses = await self.session.backend.read(load)
        if self._stopped:
            return []
        self.marks = marks
        lines = self._mailbox_events(told, marks)
        selected_id = self._selected_folder()
        for fid, (name, mark) in marks.folders.items():
            before, status = told.folders.get(fid), statuses.get(name)
            if status is None:
                continue
            counted = self.counts.get(fid)
            self.counts[fid] = status.messages
            if before is None or before[1].uidvalidity != mark.uidvalidity \
                    or before[1] == mark or fid == selected_id:
                continue
            group = self.group_for(name, marks.subscribed)
            events = set(group.events) if group is not None else set()
            arrived = mark.uidnext - before[1].uidnext
            left = counted is not None and status.messages < counted + arrived
            if ((arrived or left) and "MessageNew" in events) or \
                    (not arrived and not left and "FlagChange" in events):
                assert group is not None
                lines.append(self._status(name, status, group))
        for fid in set(self.counts) - set(marks.folders):
            del self.counts[fid]
        return lines

    def _mailbox_events(self, told: AccountMarks, now: AccountMarks) -> list[str]:
        """LIST responses for MailboxName and SubscriptionChange. A folder is its id and
        UIDVALIDITY: RENAME keeps both, a folder made again gets a new UIDVALIDITY.
        Deletions come first, then renames, then creations, so that a name deleted or
        renamed away and made again in the same interval reads right."""
        before, after = _identities(told), _identities(now)
        lines = [self._list(name, "\\NonExistent")
                 for identity, name in sorted(before.items(), key=lambda item: item[1])
                 if identity not in after and self._wants(name, told, "MailboxName")]
        created = []
        for identity, name in sorted(after.items(), key=lambda item: item[1]):
            old_name = before.get(identity)
            if old_name is None and self._wants(name, now, "MailboxName"):
                created.append(self._list(name, ""))
            elif old_name is not None and old_name != name and (
                    self._wants(name, now, "MailboxName")
                    or self._wants(old_name, told, "MailboxName")):
                lines.append(self._list(name, "", old_name))
        lines += created
        for name in sorted(now.subscribed - told.subscribed):
            if self._wants(name, now, "SubscriptionChange"):
                lines.append(self._list(name, "\\Subscribed"))
        for name in sorted(told.subscribed - now.subscribed):
            if self._wants(name, now, "SubscriptionChange"):
                lines.append(self._list(name, ""))
        return lines

    # -- matching and writing --------------------------------------------------------------

    def group_for(self, name: str, subscribed: frozenset[str]) -> c.NotifyGroup | None:
        """The first event group (other than the selected mailbox's) matching `name`."""
        return next((g for g in self.others if _matches(g, name, subscribed)), None)

    def _wants(self, name: str, marks: AccountMarks, event: str) -> bool:
        group = self.group_for(name, marks.subscribed)
        return group is not None and event in group.events

    def _selected_folder(self) -> int | None:
        view = self.session.view
        return view.folder_id if view is not None else None

    def _status(self, name: str, status: store.MailboxStatus, group: c.NotifyGroup) -> str:
        items = ("MESSAGES", "UIDNEXT", "UIDVALIDITY")
        if "FlagChange" in group.events:
            items += ("HIGHESTMODSEQ",)
        return status_line(self.session, name, status, items)

    def _list(self, name: str, attribute: str, old_name: str | None = None) -> str:
        utf8 = self.session.utf8
        extra = "" if old_name is None else \
            f' ("OLDNAME" ({wire_mailbox(old_name, utf8=utf8)}))'
        return f'* LIST ({attribute}) "/" {wire_mailbox(name, utf8=utf8)}{extra}\r\n'


def _identities(marks: AccountMarks) -> dict[tuple[int, int], str]:
    """(folder id, UIDVALIDITY) -> name."""
    return {(fid, mark.uidvalidity): name for fid, (name, mark) in marks.folders.items()}


def _matches(group: c.NotifyGroup, name: str, subscribed: frozenset[str]) -> bool:
    if group.filter == "PERSONAL":
        return True
    if group.filter == "INBOXES":
        return name == INBOX
    if group.filter == "SUBSCRIBED":
        return name in subscribed
    if group.filter == "SUBTREE":
        return any(name == top or name.startswith(top + SEPARATOR) for top in group.mailboxes)
    return name in group.mailboxes  # MAILBOXES


COMMANDS: dict[type, Handler] = {c.Notify: notify}

"""One IMAP connection's state and the commands that need no mailbox selected.

States (RFC 9051 §3): not authenticated -> authenticated -> selected, and logout. The
listener frames bytes into commands and hands each to `ImapSession.handle`; replies go to
the `Output` it was given. Commands on folders live in `mailboxes.py`, commands on the
selected folder's messages in `messages.py`; this module owns the states, sign-in, the
capabilities, SELECT and IDLE, and tells the client about changes made elsewhere (with
NOTIFY, `notifying` tells it more, and unasked).
"""

from __future__ import annotations

import enum
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

from mailgate.auth.gate import Principal
from mailgate.auth.sasl import (
    MECHANISMS,
    Challenge,
    Credentials,
    Rejected,
    SaslError,
    ServerMechanism,
    create_mechanism,
)
from mailgate.auth.tokens import scope_for
from mailgate.policy.decision import Decision
from mailgate.protocols import refusals
from mailgate.protocols.imap import commands as c
from mailgate.protocols.imap.contexts import SearchContexts
from mailgate.protocols.imap.framer import RawCommand
from mailgate.protocols.imap.notifying import Notifier
from mailgate.protocols.imap.parser import continuation_line, parse_command
from mailgate.protocols.imap.service import PROTOCOL, ImapService
from mailgate.protocols.imap.view import BadSequence, MailboxView
from mailgate.protocols.imap.wire import mailbox as wire_mailbox
from mailgate.protocols.refusals import Refusal
from mailgate.safetext import visible
from mailgate.store import flags as flagset
from mailgate.store import selected
from mailgate.store.errors import MailboxError, MailboxNotFound
from mailgate.store.mailboxes import find_mailbox
from mailgate.store.uidsets import UidSet

log = logging.getLogger("mailgate.imap")

BASE_CAPABILITIES = ("IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE")
AUTHENTICATED_CAPABILITIES = (
    "NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "SPECIAL-USE", "CREATE-SPECIAL-USE", "CHILDREN",
    "LIST-EXTENDED", "LIST-STATUS", "CONDSTORE", "QRESYNC", "QUOTA", "QUOTA=RES-STORAGE",
    "ESEARCH", "SEARCHRES", "MULTIAPPEND", "CATENATE", "BINARY", "UTF8=ACCEPT", "STATUS=SIZE",
    "COMPRESS=DEFLATE", "SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES", "CONTEXT=SEARCH", "NOTIFY",
)
ENABLEABLE = {"IMAP4REV2": "IMAP4rev2", "CONDSTORE": "CONDSTORE", "QRESYNC": "QRESYNC",
              "UTF8=ACCEPT": "UTF8=ACCEPT"}
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
MAX_BAD_COMMANDS = 20
MAX_AUTH_FAILURES = 3


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


class Output(Protocol):
    """Where a session's replies go (the listener's connection)."""

    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    async def start_tls(self) -> bool: ...

    def start_compression(self) -> None: ...

    def signed_in(self) -> None: ...

    def close(self) -> None: ...


class ImapSession:
    """The protocol state of one connection; `handle` runs one command to its end."""

    def __init__(self, backend: ImapService, out: Output, *, peer: str, loopback: bool,
                 tls_active: bool, tls_available: bool) -> None:
        self.backend = backend
        self.out = out
        self.id = uuid.uuid4().hex
        self.peer = peer
        self.loopback = loopback
        self.tls_active = tls_active
        self.tls_available = tls_available and not tls_active
        self.state = State.NOT_AUTHENTICATED
        self.principal: Principal | None = None
        self.view: MailboxView | None = None
        self.notifier: Notifier | None = None  # NOTIFY SET in force
        self.busy = False  # a command is running
        self.enabled: set[str] = set()
        self.client_id: str | None = None
        self.saved: list[int] = []  # SEARCHRES ($)
        self.contexts = SearchContexts()  # SEARCH RETURN (UPDATE), contexts.py
        self.bad_commands = 0
        self.auth_failures = 0
        self._sasl: tuple[str, ServerMechanism] | None = None
        self._sasl_refusal: Refusal | None = None  # sent once the token error is answered
        self._idle_tag: str | None = None
        self._waking = False
        self.closed = False
        self.compressed = False

    # -- what the listener asks --------------------------------------------------------------

    def greeting(self) -> bytes:
        return f"* OK [CAPABILITY {' '.join(self.capabilities())}] mailgate ready\r\n".encode()

    @property
    def utf8(self) -> bool:
        return bool(self.enabled & {"IMAP4rev2", "UTF8=ACCEPT"})

    @property
    def rev2(self) -> bool:
        return "IMAP4rev2" in self.enabled

    @property
    def wants_line(self) -> bool:
        """The next input is a plain line (an AUTHENTICATE response or IDLE's DONE)."""
        return self._sasl is not None or self._idle_tag is not None

    @property
    def idling(self) -> bool:
        return self._idle_tag is not None

    def capabilities(self) -> list[str]:
        caps = list(BASE_CAPABILITIES)
        if self.state is State.NOT_AUTHENTICATED:
            if self.tls_available:
                caps.append("STARTTLS")
            if self.tls_active or self.loopback:
                caps += [f"AUTH={name}" for name in MECHANISMS]
            else:
                caps.append("LOGINDISABLED")
        else:
            caps += AUTHENTICATED_CAPABILITIES
        return caps

    async def handle(self, raw: RawCommand) -> None:
        """One framed command (or the answer to a continuation request); NOTIFY's reports
        wait for its end."""
        if self.notifier is not None:
            await self.notifier.settle()
        self.busy = True
        try:
            await self._run(raw)
        finally:
            self.busy = False
        if self.notifier is not None and not self.closed:
            await self.notifier.command_done()

    async def _run(self, raw: RawCommand) -> None:
        if self._sasl is not None:
            await self._sasl_step(continuation_line(raw))
            return
        if self._idle_tag is not None:
            await self._idle_done(continuation_line(raw))
            return
        command = parse_command(raw, utf8=self.utf8)
        if isinstance(command, c.ParseError):
            self.bad(command.tag, command.message, command.status)
            return
        handler = _handlers().get(type(command))
        allowed = _STATES.get(type(command), _SELECTED_ONLY)
        if handler is None or self.state not in allowed:
            self.bad(command.tag, f"{type(command).__name__.upper()} is not allowed "
                                  f"in the {self.state.value} state")
            return
        self.bad_commands = 0
        try:
            await handler(self, command)
        except BadSequence as error:
            self.bad(command.tag, str(error))
        except MailboxError as error:
            self.no(command.tag, f"[{error.code}] {error}")

    def bad(self, tag: str, message: str, status: str = "BAD") -> None:
        self.bad_commands += 1
        text = " ".join(message.split())
        self.send(f"{tag} {status} {text}\r\n")
        if self.bad_commands >= MAX_BAD_COMMANDS:
            self.bye("Too many invalid commands.")

    def no(self, tag: str, message: str) -> None:
        self.send(f"{tag} NO {message}\r\n")

    def ok(self, tag: str, message: str) -> None:
        self.send(f"{tag} OK {message}\r\n")

    def send(self, text: str | bytes) -> None:
        if not self.closed:
            self.out.write(text.encode() if isinstance(text, str) else text)

    def bye(self, message: str) -> None:
        self.send(f"* BYE {message}\r\n")
        self.finish()

    def finish(self) -> None:
        """End the session: stop watching, leave the registry, close the connection."""
        if self.closed:
            return
        self._stop_watching()
        if self.notifier is not None:
            self.notifier.stop()
        self.state = State.LOGOUT
        self.closed = True
        if self.principal is not None:
            self.backend.end(self.principal, self.id)
        self.out.close()

    def door_closed(self, decision: Decision) -> None:
        """The session's door closed (compromise, policy): BYE with the reason (SPEC §5)."""
        if not self.closed:
            self.send(refusals.imap_bye(decision) + "\r\n")
            self.finish()

    # -- changes made elsewhere ---------------------------------------------------------------

    async def report_changes(self, *, expunges: bool = True) -> None:
        """Untagged EXISTS / EXPUNGE / FETCH FLAGS for what changed since the last report."""
        view = self.view
        if view is None or self.closed:
            return
        try:
            changes = await self.backend.read(selected.changes_since, view.folder_id,
                                              view.mark.uidnext, view.mark.highestmodseq)
            recent_from = None
            if changes.new:
                recent_from = await self._recent_from(view, changes.mark.uidnext)
        except MailboxNotFound:
            self.bye("The selected mailbox was deleted.")
            return
        if self.view is view:
            last = view.uids[-1] if view.uids else 0
            for line in view.apply(changes, expunges=expunges, recent_from=recent_from):
                self.send(line)
            if self.notifier is not None:
                await self.notifier.fetch_new(view, last)
            await self.contexts.announce(self)

    async def _recent_from(self, view: MailboxView, below: int) -> int:
        """The first UID under `below` that is recent for this session (claimed when the
        mailbox is open read-write, RFC 3501 §2.3.2)."""
        if view.read_only:
            return await self.backend.read(selected.claim_recent, view.folder_id, below, False)
        return await self.backend.write(selected.claim_recent, view.folder_id, below)

    def _watch(self) -> None:
        if self.view is not None and not self.closed:
            self.backend.watcher.watch(self.view.folder_id, self.view.mark, self._wake)

    def _stop_watching(self) -> None:
        if self.view is not None:
            self.backend.watcher.unwatch(self.view.folder_id, self._wake)

    def _wake(self) -> None:
        """The watcher saw the idle folder change: report it, then watch again."""
        if self._idle_tag is None or self._waking or self.closed:
            return
        self._waking = True

        async def report() -> None:
            try:
                await self.report_changes()
                await self.out.drain()
            finally:
                self._waking = False
            if self._idle_tag is not None:
                self._watch()

        self.backend.spawn(report())

    # -- sign-in ------------------------------------------------------------------------------

    async def _sign_in(self, tag: str, mechanism: str, username: str, secret: str,
                       sasl: ServerMechanism | None = None) -> None:
        result = await self.backend.authenticate(mechanism, username, secret, self.peer,
                                                 self.tls_active, self.client_id)
        if self.closed:
            return
        if isinstance(result, Refusal):
            error = sasl.refused(refusals.oauth_status(result), scope_for(PROTOCOL)) \
                if sasl is not None else None
            if error is not None:  # the client answers it, then gets the refusal
                self._sasl, self._sasl_refusal = (tag, sasl), result
                self.send(f"+ {error.encoded()}\r\n")
            else:
                self._refused(tag, result)
            return
        self.principal = result
        self.state = State.AUTHENTICATED
        self.out.signed_in()
        await self.backend.go_live(result, self.id, self.peer, self.door_closed, self.client_id)
        if not self.closed:
            self.ok(tag, f"[CAPABILITY {' '.join(self.capabilities())}] Signed in")

    def _refused(self, tag: str, refusal: Refusal) -> None:
        self.auth_failures += 1
        self.send(f"{tag} {refusals.imap(refusal)}\r\n")
        if self.auth_failures >= MAX_AUTH_FAILURES:
            self.bye("Too many failed sign-ins.")

    def _privacy_refused(self, tag: str) -> bool:
        if self.tls_active or self.loopback:
            return False
        self.send(f"{tag} {refusals.imap(Refusal('privacy'))}\r\n")
        return True

    async def _login(self, command: c.Command) -> None:
        assert isinstance(command, c.Login)
        if not self._privacy_refused(command.tag):
            await self._sign_in(command.tag, "LOGIN", command.username, command.password)

    async def _authenticate(self, command: c.Command) -> None:
        assert isinstance(command, c.Authenticate)
        if self._privacy_refused(command.tag):
            return
        mechanism = create_mechanism(command.mechanism)
        if mechanism is None:
            self.no(command.tag, f"[CANNOT] Unsupported mechanism {command.mechanism[:40]}")
            return
        self._sasl = (command.tag, mechanism)
        await self._sasl_result(lambda: mechanism.start(command.initial_response))

    async def _sasl_step(self, line: str | None) -> None:
        assert self._sasl is not None
        _, mechanism = self._sasl
        if line is None:
            tag, self._sasl = self._sasl[0], None
            self.bad(tag, "Invalid SASL response")
            return
        await self._sasl_result(lambda: mechanism.respond(line))

    async def _sasl_result(self, step: Callable[[], Challenge | Credentials | Rejected]
                           ) -> None:
        assert self._sasl is not None
        tag, mechanism = self._sasl
        try:
            result = step()
        except SaslError as error:
            self._sasl, self._sasl_refusal = None, None
            self.bad(tag, str(error) or "Authentication cancelled")
            return
        if isinstance(result, Challenge):
            self.send(f"+ {result.encoded()}\r\n")
            return
        self._sasl = None
        if isinstance(result, Rejected):
            refusal, self._sasl_refusal = self._sasl_refusal, None
            assert refusal is not None
            self._refused(tag, refusal)
            return
        await self._sign_in(tag, mechanism.name, result.username, result.secret, mechanism)

    async def _starttls(self, command: c.Command) -> None:
        if not self.tls_available:
            self.bad(command.tag, "TLS is not available here")
            return
        self.ok(command.tag, "Begin TLS negotiation now")
        if await self.out.start_tls():
            self.tls_active, self.tls_available = True, False
        else:
            self.finish()

    # -- any state ----------------------------------------------------------------------------

    async def _capability(self, command: c.Command) -> None:
        self.send(f"* CAPABILITY {' '.join(self.capabilities())}\r\n")
        self.ok(command.tag, "Capability completed")

    async def _noop(self, command: c.Command) -> None:
        await self.report_changes()
        self.ok(command.tag, "NOOP completed")

    async def _logout(self, command: c.Command) -> None:
        self.send("* BYE Logging out\r\n")
        self.ok(command.tag, "Logout completed")
        self.finish()

    async def _id(self, command: c.Command) -> None:
        assert isinstance(command, c.Id)
        if command.parameters:
            fields = {k.lower(): v for k, v in command.parameters if v}
            described = " ".join(fields[k] for k in ("name", "version") if k in fields)
            self.client_id = visible(described)[:128] or None
            if self.principal is not None:
                self.backend.describe(self.principal, self.id, self.client_id)
        self.send('* ID ("name" "mailgate")\r\n')
        self.ok(command.tag, "ID completed")

    async def _enable(self, command: c.Command) -> None:
        assert isinstance(command, c.Enable)
        newly = []
        for name in command.capabilities:
            known = ENABLEABLE.get(name.upper())
            if known is not None and known not in self.enabled:
                self.enabled.add(known)
                newly.append(known)
                if known == "QRESYNC":
                    self.enabled.add("CONDSTORE")
        if self.view is not None:
            self.view.condstore = "CONDSTORE" in self.enabled
            self.view.qresync = "QRESYNC" in self.enabled
            self.view.announce_recent = not self.rev2
        self.send(f"* ENABLED {' '.join(newly)}\r\n".replace("ENABLED \r", "ENABLED\r"))
        self.ok(command.tag, "ENABLE completed")

    async def _compress(self, command: c.Command) -> None:
        if self.compressed:
            self.no(command.tag, "[COMPRESSIONACTIVE] DEFLATE is already active")
            return
        self.ok(command.tag, "DEFLATE active")
        self.compressed = True
        self.out.start_compression()

    async def _namespace(self, command: c.Command) -> None:
        self.send('* NAMESPACE (("" "/")) NIL NIL\r\n')
        self.ok(command.tag, "NAMESPACE completed")

    def enable_condstore(self) -> None:
        """A CONDSTORE-enabling command (RFC 7162 §3.1): MODSEQ from now on, and the
        selected mailbox's HIGHESTMODSEQ once."""
        if "CONDSTORE" in self.enabled:
            return
        self.enabled.add("CONDSTORE")
        if self.view is not None:
            self.view.condstore = True
            self.send(f"* OK [HIGHESTMODSEQ {self.view.mark.highestmodseq}] Highest\r\n")

    # -- selecting ----------------------------------------------------------------------------

    async def _select(self, command: c.Command) -> None:
        assert isinstance(command, c.Select)
        assert self.principal is not None
        if self.view is not None:
            self._stop_watching()
            self.contexts.clear()
            self.view = None
            self.state = State.AUTHENTICATED
            self.send("* OK [CLOSED] Previous mailbox closed\r\n")
        if command.condstore:
            self.enabled.add("CONDSTORE")
        if command.qresync is not None and "QRESYNC" not in self.enabled:
            self.bad(command.tag, "QRESYNC must be enabled first")
            return
        account = self.principal.account_id

        def load(conn):  # type: ignore[no-untyped-def]
            folder = find_mailbox(conn, account, command.mailbox)
            return folder, selected.snapshot(conn, folder.id)

        folder, snap = await self.backend.read(load)
        view = MailboxView.of(folder.id, folder.name, command.read_only, snap)
        view.condstore = "CONDSTORE" in self.enabled
        view.qresync = "QRESYNC" in self.enabled
        view.announce_recent = not self.rev2
        first_recent = await self._recent_from(view, view.mark.uidnext)
        view.recent = {uid for uid in view.uids if uid >= first_recent}
        keywords = sorted({f for stored in view.flags for f in flagset.split(stored)
                           if not f.startswith("\\")})
        flags = " ".join([*SYSTEM_FLAGS, *keywords])
        self.send(f"* FLAGS ({flags})\r\n")
        permanent = "" if command.read_only else f"{flags} \\*"
        self.send(f"* OK [PERMANENTFLAGS ({permanent})] Flags permitted\r\n")
        self.send(f"* {len(view)} EXISTS\r\n")
        if not self.rev2:
            self.send(f"* {len(view.recent)} RECENT\r\n")
            unseen = snap.first_unseen()
            if unseen is not None:
                self.send(f"* OK [UNSEEN {unseen}] First unseen\r\n")
        self.send(f"* OK [UIDVALIDITY {view.uidvalidity}] UIDs valid\r\n"
                  f"* OK [UIDNEXT {view.mark.uidnext}] Predicted next UID\r\n"
                  f"* OK [HIGHESTMODSEQ {view.mark.highestmodseq}] Highest\r\n")
        if self.rev2:
            self.send(f'* LIST () "/" {wire_mailbox(folder.name, utf8=self.utf8)}\r\n')
        if command.qresync is not None and command.qresync.uidvalidity == view.uidvalidity:
            await self._resync(view, command.qresync)
        self.view = view
        self.state = State.SELECTED
        mode = "READ-ONLY" if command.read_only else "READ-WRITE"
        self.ok(command.tag, f"[{mode}] {'EXAMINE' if command.read_only else 'SELECT'} completed")

    async def _resync(self, view: MailboxView, params: c.QresyncParameters) -> None:
        """QRESYNC (RFC 7162 §3.2.5): what the client missed since its MODSEQ."""
        known = UidSet.of(params.known_uids.resolve(view.mark.uidnext)) \
            if params.known_uids is not None else None
        vanished = await self.backend.read(selected.vanished_since, view.folder_id,
                                           params.modseq, known)
        if vanished:
            from mailgate.protocols.imap.wire import compact_set
            self.send(f"* VANISHED (EARLIER) {compact_set(vanished)}\r\n")
        for index, modseq in enumerate(view.modseqs):
            if modseq > params.modseq:
                state = selected.MessageState(view.uids[index], view.flags[index], modseq)
                self.send(view.flag_update(index + 1, state, uid=True))

    async def _close(self, command: c.Command) -> None:
        view = self.view
        assert view is not None and self.principal is not None
        if not view.read_only:
            from mailgate.store import transfer
            await self.backend.write(transfer.expunge, self.principal.account_id,
                                     view.folder_id, None, self.backend.now())
        self._leave()
        self.ok(command.tag, "CLOSE completed")

    async def _unselect(self, command: c.Command) -> None:
        self._leave()
        self.ok(command.tag, "UNSELECT completed")

    def _leave(self) -> None:
        self._stop_watching()
        self.contexts.clear()
        self.view = None
        self.state = State.AUTHENTICATED

    # -- IDLE ---------------------------------------------------------------------------------

    async def _idle(self, command: c.Command) -> None:
        self._idle_tag = command.tag
        self.send("+ idling\r\n")
        await self.report_changes()
        self._watch()

    async def _idle_done(self, line: str | None) -> None:
        tag, self._idle_tag = self._idle_tag, None
        assert tag is not None
        self._stop_watching()
        if line is None or line.upper() != "DONE":
            self.bad(tag, "Expected DONE")
            return
        self.ok(tag, "IDLE terminated")


Handler = Callable[[ImapSession, c.Command], Awaitable[None]]

_COMMANDS: dict[type, Handler] = {
    c.Capability: ImapSession._capability, c.Noop: ImapSession._noop,
    c.Logout: ImapSession._logout, c.Id: ImapSession._id, c.StartTls: ImapSession._starttls,
    c.Login: ImapSession._login, c.Authenticate: ImapSession._authenticate,
    c.Enable: ImapSession._enable, c.Namespace: ImapSession._namespace,
    c.Compress: ImapSession._compress,
    c.Select: ImapSession._select, c.Close: ImapSession._close,
    c.Unselect: ImapSession._unselect, c.Idle: ImapSession._idle,
}


@functools.cache
def _handlers() -> dict[type, Handler]:
    """Every command's handler: one table for all sessions (a copy per session cost 1.2 KiB
    of each idle session's memory)."""
    from mailgate.protocols.imap import mailboxes, messages, notifying  # command tables
    return {**_COMMANDS, **mailboxes.COMMANDS, **messages.COMMANDS, **notifying.COMMANDS}


_ANY = frozenset({State.NOT_AUTHENTICATED, State.AUTHENTICATED, State.SELECTED})
_SIGNED_IN = frozenset({State.AUTHENTICATED, State.SELECTED})
_SELECTED_ONLY = frozenset({State.SELECTED})
_STATES: dict[type, frozenset[State]] = {
    c.Capability: _ANY, c.Noop: _ANY, c.Logout: _ANY, c.Id: _ANY,
    c.StartTls: frozenset({State.NOT_AUTHENTICATED}),
    c.Login: frozenset({State.NOT_AUTHENTICATED}),
    c.Authenticate: frozenset({State.NOT_AUTHENTICATED}),
    **{kind: _SIGNED_IN for kind in (
        c.Enable, c.Compress, c.Namespace, c.Select, c.Create, c.Delete, c.Rename, c.Subscribe,
        c.Unsubscribe, c.List, c.Lsub, c.Status, c.Append, c.Idle, c.GetQuota,
        c.GetQuotaRoot, c.SetQuota, c.Notify)},
}

"""The POP3 protocol as an explicit state machine without I/O (the h11/wsproto pattern).

States (RFC 1939): AUTHORIZATION -> TRANSACTION -> UPDATE, then CLOSED. The adapter feeds
received bytes with `receive_data()`, asks `next_event()` what to do, sends the bytes that
`data_to_send()` returns, and answers each request event through the matching method
(`authenticated`, `maildrop_opened`, `message_loaded`, `deletes_committed`, `tls_started`,
or `backend_failed` when the backend raised). While a request is outstanding, further input
is only buffered, so pipelined commands are answered in order.

Plaintext sign-in (USER/PASS, AUTH) is refused without TLS unless the peer is on loopback.
USER accepts any name (no account enumeration). After `Limits.bad_commands` errors in a row
or `Limits.auth_failures` failed sign-ins the connection is closed.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

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
from mailgate.protocols import refusals
from mailgate.protocols.pop3 import replies
from mailgate.protocols.pop3.backend import MaildropEntry, Principal
from mailgate.protocols.pop3.events import (
    CLOSE,
    NEED_DATA,
    START_TLS,
    Authenticate,
    CommitDeletes,
    Event,
    LoadMessage,
    OpenMaildrop,
)
from mailgate.protocols.pop3.lines import LineBuffer, TooLong
from mailgate.protocols.pop3.wire import multiline_body, reply_line
from mailgate.protocols.refusals import Refusal


class State(enum.Enum):
    AUTHORIZATION = "authorization"
    TRANSACTION = "transaction"
    UPDATE = "update"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection limits."""

    command_line: int = 1000  # octets of a command line (RFC 2449 asks for 255 at least)
    sasl_line: int = 16384  # AUTH lines and SASL responses: room for OAuth tokens
    bad_commands: int = 10  # -ERR answers in a row, then the connection is closed
    auth_failures: int = 3  # refused sign-ins, then the connection is closed


DEFAULT_LIMITS = Limits()

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_Handler = Callable[["Pop3Core", str, bool], Event | None]


class Pop3Core:
    """One POP3 connection's protocol state."""

    __slots__ = (
        "_auth_failures",
        "_bad_commands",
        "_crlf_messages",
        "_deleted",
        "_entries",
        "_limits",
        "_lines",
        "_loopback",
        "_negotiating_tls",
        "_next",
        "_out",
        "_principal",
        "_retrieving",
        "_sasl",
        "_sasl_refusal",
        "_signing_in",
        "_state",
        "_tls_active",
        "_tls_available",
        "_user",
        "_waiting",
    )

    def __init__(
        self,
        *,
        tls_available: bool,
        tls_active: bool,
        loopback: bool,
        limits: Limits = DEFAULT_LIMITS,
        crlf_messages: bool = False,
    ) -> None:
        self._limits = limits
        self._crlf_messages = crlf_messages
        self._tls_available = tls_available and not tls_active
        self._tls_active = tls_active
        self._loopback = loopback
        self._state = State.AUTHORIZATION
        self._lines = LineBuffer()
        self._out: list[bytes] = [reply_line(replies.GREETING)]
        self._bad_commands = 0
        self._auth_failures = 0
        self._user: str | None = None
        self._sasl: ServerMechanism | None = None
        self._signing_in: ServerMechanism | None = None  # its credentials are being checked
        self._sasl_refusal: Refusal | None = None  # sent once the token error is answered
        self._negotiating_tls = False
        self._waiting: type[Event] | None = None
        self._next: OpenMaildrop | None = None  # asked for right after a sign-in
        self._principal: Principal | None = None
        self._entries: tuple[MaildropEntry, ...] = ()
        self._deleted: set[int] = set()
        self._retrieving: tuple[MaildropEntry, int | None] | None = None

    # -- what the adapter reads -------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def tls_active(self) -> bool:
        return self._tls_active

    @property
    def principal(self) -> Principal | None:
        """The signed-in principal (set once the backend accepted the credentials)."""
        return self._principal

    @property
    def buffered(self) -> int:
        """Octets received and not yet processed."""
        return len(self._lines)

    def data_to_send(self) -> list[bytes]:
        """The bytes to send now, in order (taken: a second call returns only newer ones)."""
        out, self._out = self._out, []
        return out

    # -- input -------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer received bytes; dropped after close and while TLS is being negotiated."""
        if self._state is not State.CLOSED and not self._negotiating_tls:
            self._lines.feed(data)

    def next_event(self) -> Event:
        """Process buffered commands until one needs the adapter; see `events`."""
        if self._waiting is not None:
            raise RuntimeError(f"answer the pending {self._waiting.__name__} first")
        if self._next is not None:
            follow_up, self._next = self._next, None
            return self._request(follow_up)
        while True:
            if self._state is State.CLOSED:
                return CLOSE
            if self._negotiating_tls or not self._lines.skip_discarded():
                return NEED_DATA
            line = self._lines.next_line(self._line_limit())
            if line is None:
                return NEED_DATA
            event = self._handle(line)
            if event is not None:
                return event

    # -- answers to requests -------------------------------------------------------------

    def authenticated(self, result: Principal | Refusal) -> None:
        self._answered(Authenticate)
        mechanism, self._signing_in = self._signing_in, None
        if isinstance(result, Refusal):
            error = mechanism.refused(refusals.oauth_status(result), scope_for("pop")) \
                if mechanism is not None else None
            if error is not None:  # the client answers it, then gets the refusal
                self._sasl, self._sasl_refusal = mechanism, result
                self._send(replies.sasl_challenge(error.encoded()))
            else:
                self._refused(result)
            return
        self._principal = result
        self._next = OpenMaildrop(result)

    def maildrop_opened(self, entries: Sequence[MaildropEntry] | None) -> None:
        self._answered(OpenMaildrop)
        if entries is None:
            self._principal = None
            self._send(replies.IN_USE)
            return
        self._entries = tuple(entries)
        self._state = State.TRANSACTION
        self._ok(replies.signed_in(*self._totals()))

    def message_loaded(self, message: bytes) -> None:
        self._answered(LoadMessage)
        assert self._retrieving is not None
        entry, top_lines = self._retrieving
        self._retrieving = None
        first = replies.message_octets(entry.size) if top_lines is None else replies.TOP_FOLLOWS
        self._ok(first)
        self._out += (multiline_body(message, top_lines, self._crlf_messages), b".\r\n")

    def deletes_committed(self) -> None:
        self._answered(CommitDeletes)
        self._send(replies.SIGNING_OFF)
        self._state = State.CLOSED

    def tls_started(self) -> None:
        """TLS is up: back to a fresh AUTHORIZATION state (RFC 2595), no new greeting."""
        if not self._negotiating_tls:
            raise RuntimeError("tls_started() without STLS")
        self._negotiating_tls = False
        self._tls_active = True
        self._tls_available = False
        self._user = None

    def backend_failed(self) -> None:
        """The backend raised while answering a request: say so and close."""
        self._waiting = None
        self._next = None
        self._send(replies.SYSTEM_TEMPORARY)
        self._state = State.CLOSED

    # -- helpers ---------------------------------------------------------------------------

    def _refused(self, refusal: Refusal) -> None:
        self._auth_failures += 1
        self._send(refusals.pop3(refusal))
        if self._auth_failures >= self._limits.auth_failures:
            self._state = State.CLOSED

    def _answered(self, kind: type[Event]) -> None:
        if self._waiting is not kind:
            raise RuntimeError(f"no {kind.__name__} is pending")
        self._waiting = None

    def _request(self, event: Event) -> Event:
        self._waiting = type(event)
        return event

    def _send(self, text: str) -> None:
        self._out.append(reply_line(text))

    def _ok(self, text: str) -> None:
        self._bad_commands = 0
        self._send(text)

    def _error(self, text: str) -> None:
        self._send(text)
        self._bad_commands += 1
        if self._bad_commands >= self._limits.bad_commands:
            self._state = State.CLOSED

    def _multiline(self, first: str, lines: Iterable[str]) -> None:
        self._ok(first)
        # no line here can begin with ".": they start with digits or capability names
        self._out.append(b"".join(reply_line(line) for line in lines) + b".\r\n")

    def _line_limit(self) -> int:
        if self._sasl is not None or self._lines.startswith(b"AUTH "):
            return self._limits.sasl_line
        return self._limits.command_line

    def _plaintext_allowed(self) -> bool:
        return self._tls_active or self._loopback

    def _visible(self) -> list[tuple[int, MaildropEntry]]:
        return [
            (number, entry)
            for number, entry in enumerate(self._entries, 1)
            if number not in self._deleted
        ]

    def _totals(self) -> tuple[int, int]:
        visible = self._visible()
        return len(visible), sum(entry.size for _, entry in visible)

    def _message(self, argument: str) -> tuple[int, MaildropEntry] | None:
        """The visible message an argument names, or None after sending the error."""
        if not _is_number(argument):
            self._error(replies.BAD_MESSAGE_NUMBER)
            return None
        number = int(argument)
        if not 1 <= number <= len(self._entries):
            self._error(replies.NO_SUCH_MESSAGE)
            return None
        if number in self._deleted:
            self._error(replies.already_deleted(number))
            return None
        return number, self._entries[number - 1]

    # -- one line ----------------------------------------------------------------------------

    def _handle(self, raw: bytes | TooLong) -> Event | None:
        if isinstance(raw, TooLong):
            self._sasl = None
            self._error(replies.LINE_TOO_LONG)
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._sasl = None
            self._error(replies.NOT_UTF8)
            return None
        if _CONTROL.search(text):
            self._sasl = None
            self._error(replies.CONTROL_CHARACTERS)
            return None
        if self._sasl is not None:
            return self._sasl_response(text)
        if not text:
            self._error(replies.EMPTY_COMMAND)
            return None
        verb, separator, argument = text.partition(" ")
        verb = verb.upper()
        if verb != "PASS":  # a password may begin or end with spaces; nothing else may
            argument = argument.strip(" ")
            separator = separator and argument
        table = _AUTHORIZATION if self._state is State.AUTHORIZATION else _TRANSACTION
        handler = table.get(verb)
        if handler is not None:
            return handler(self, argument, bool(separator))
        if verb == "APOP":
            self._error(replies.APOP_UNSUPPORTED)
        elif verb in _AUTHORIZATION:
            self._error(replies.ALREADY_SIGNED_IN)
        elif verb in _TRANSACTION:
            self._error(replies.SIGN_IN_FIRST)
        else:
            self._error(replies.UNKNOWN_COMMAND)
        return None

    # -- AUTHORIZATION -----------------------------------------------------------------------

    def _user_command(self, argument: str, _: bool) -> Event | None:
        name = argument.strip()
        if not name:
            self._error(replies.usage("USER"))
        elif not self._plaintext_allowed():
            self._error(refusals.pop3(Refusal("privacy")))
        else:
            self._user = name
            self._ok(replies.USER_ACCEPTED)
        return None

    def _pass_command(self, argument: str, has_argument: bool) -> Event | None:
        user, self._user = self._user, None
        if not has_argument:
            self._error(replies.usage("PASS"))
        elif not self._plaintext_allowed():
            self._error(refusals.pop3(Refusal("privacy")))
        elif user is None:
            self._error(replies.USER_FIRST)
        else:
            return self._request(Authenticate("USER", user, argument))
        return None

    def _auth_command(self, argument: str, _: bool) -> Event | None:
        self._user = None
        words = argument.split(" ") if argument else []
        if not words:
            self._multiline(replies.MECHANISM_LIST, MECHANISMS)
            return None
        if len(words) > 2 or not all(words):
            self._error(replies.usage("AUTH"))
            return None
        mechanism = create_mechanism(words[0])
        if mechanism is None:
            self._error(replies.UNSUPPORTED_MECHANISM)
            return None
        if not self._plaintext_allowed():
            self._error(refusals.pop3(Refusal("privacy")))
            return None
        try:
            step = mechanism.start(words[1] if len(words) == 2 else None)
        except SaslError as exc:
            self._error(replies.sasl_failed(str(exc)))
            return None
        return self._sasl_step(mechanism, step)

    def _sasl_response(self, text: str) -> Event | None:
        mechanism = self._sasl
        assert mechanism is not None
        self._sasl = None
        try:
            step = mechanism.respond(text)
        except SaslError as exc:
            self._error(replies.sasl_failed(str(exc)))
            return None
        return self._sasl_step(mechanism, step)

    def _sasl_step(self, mechanism: ServerMechanism, step: Challenge | Credentials | Rejected
                   ) -> Event | None:
        if isinstance(step, Challenge):
            self._sasl = mechanism
            self._send(replies.sasl_challenge(step.encoded()))
            return None
        if isinstance(step, Rejected):
            refusal, self._sasl_refusal = self._sasl_refusal, None
            assert refusal is not None
            self._refused(refusal)
            return None
        self._signing_in = mechanism
        return self._request(Authenticate(mechanism.name, step.username, step.secret))

    def _stls_command(self, argument: str, has_argument: bool) -> Event | None:
        if has_argument:
            self._error(replies.usage("STLS"))
        elif self._tls_active:
            self._error(replies.TLS_ACTIVE)
        elif not self._tls_available:
            self._error(replies.TLS_UNAVAILABLE)
        else:
            self._ok(replies.BEGIN_TLS)
            self._lines.clear()  # plaintext sent after STLS must not survive into TLS
            self._negotiating_tls = True
            self._user = None
            return START_TLS
        return None

    # -- both states -------------------------------------------------------------------------

    def _capa_command(self, argument: str, has_argument: bool) -> Event | None:
        if has_argument:
            self._error(replies.usage("CAPA"))
            return None
        capabilities = [
            "TOP",
            "UIDL",
            "USER",
            f"SASL {' '.join(MECHANISMS)}",
            "RESP-CODES",
            "AUTH-RESP-CODE",
            "PIPELINING",
        ]
        if self._tls_available:
            capabilities.append("STLS")
        capabilities.append("IMPLEMENTATION mailgate")
        self._multiline(replies.CAPABILITIES, capabilities)
        return None

    def _quit_command(self, argument: str, has_argument: bool) -> Event | None:
        if has_argument:
            self._error(replies.usage("QUIT"))
            return None
        if self._state is State.TRANSACTION and self._deleted:
            self._state = State.UPDATE
            ids = tuple(self._entries[number - 1].message_id for number in sorted(self._deleted))
            return self._request(CommitDeletes(ids))
        self._send(replies.SIGNING_OFF)
        self._state = State.CLOSED
        return None

    # -- TRANSACTION -------------------------------------------------------------------------

    def _stat_command(self, argument: str, has_argument: bool) -> Event | None:
        if has_argument:
            self._error(replies.usage("STAT"))
        else:
            self._ok(replies.stat(*self._totals()))
        return None

    def _list_command(self, argument: str, has_argument: bool) -> Event | None:
        return self._scan("LIST", argument, has_argument, lambda entry: entry.size)

    def _uidl_command(self, argument: str, has_argument: bool) -> Event | None:
        return self._scan("UIDL", argument, has_argument, lambda entry: entry.uidl)

    def _scan(
        self,
        command: str,
        argument: str,
        has_argument: bool,
        value: Callable[[MaildropEntry], int | str],
    ) -> Event | None:
        if has_argument:
            if " " in argument:
                self._error(replies.usage(command))
            elif (found := self._message(argument)) is not None:
                number, entry = found
                self._ok(f"+OK {replies.scan_line(number, value(entry))}")
            return None
        visible = self._visible()
        first = replies.scan_listing(*self._totals()) if command == "LIST" else replies.UIDL_LISTING
        self._multiline(first, (replies.scan_line(n, value(entry)) for n, entry in visible))
        return None

    def _retr_command(self, argument: str, has_argument: bool) -> Event | None:
        if not has_argument or " " in argument:
            self._error(replies.usage("RETR"))
            return None
        return self._retrieve(argument, None)

    def _top_command(self, argument: str, has_argument: bool) -> Event | None:
        words = argument.split(" ")
        if not has_argument or len(words) != 2:
            self._error(replies.usage("TOP"))
            return None
        if not _is_number(words[1]):
            self._error(replies.BAD_LINE_COUNT)
            return None
        return self._retrieve(words[0], int(words[1]))

    def _retrieve(self, argument: str, top_lines: int | None) -> Event | None:
        found = self._message(argument)
        if found is None:
            return None
        self._retrieving = (found[1], top_lines)
        return self._request(LoadMessage(found[1].message_id))

    def _dele_command(self, argument: str, has_argument: bool) -> Event | None:
        if not has_argument or " " in argument:
            self._error(replies.usage("DELE"))
        elif (found := self._message(argument)) is not None:
            self._deleted.add(found[0])
            self._ok(replies.deleted(found[0]))
        return None

    def _noop_command(self, argument: str, has_argument: bool) -> Event | None:
        if has_argument:
            self._error(replies.usage("NOOP"))
        else:
            self._ok(replies.NOOP)
        return None

    def _rset_command(self, argument: str, has_argument: bool) -> Event | None:
        if has_argument:
            self._error(replies.usage("RSET"))
        else:
            self._deleted.clear()
            self._ok(replies.maildrop(*self._totals()))
        return None


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


_AUTHORIZATION: dict[str, _Handler] = {
    "USER": Pop3Core._user_command,
    "PASS": Pop3Core._pass_command,
    "AUTH": Pop3Core._auth_command,
    "STLS": Pop3Core._stls_command,
    "CAPA": Pop3Core._capa_command,
    "QUIT": Pop3Core._quit_command,
}

_TRANSACTION: dict[str, _Handler] = {
    "STAT": Pop3Core._stat_command,
    "LIST": Pop3Core._list_command,
    "RETR": Pop3Core._retr_command,
    "DELE": Pop3Core._dele_command,
    "NOOP": Pop3Core._noop_command,
    "RSET": Pop3Core._rset_command,
    "TOP": Pop3Core._top_command,
    "UIDL": Pop3Core._uidl_command,
    "CAPA": Pop3Core._capa_command,
    "QUIT": Pop3Core._quit_command,
}

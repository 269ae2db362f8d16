"""What the sans-IO POP3 core asks of its adapter, one event at a time.

`Pop3Core.next_event()` returns one of these. `NEED_DATA` means "feed me more bytes"; `CLOSE`
means "flush what `data_to_send()` gave you, then close". Every other event is a request whose
answer the adapter hands back through the matching core method (named in each docstring)
before asking for the next event.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailgate.protocols.pop3.backend import Principal


@dataclass(frozen=True, slots=True)
class NeedData:
    """Nothing to do until more bytes are received."""


@dataclass(frozen=True, slots=True)
class Close:
    """Send what is pending, then close the connection."""


@dataclass(frozen=True, slots=True)
class Authenticate:
    """Check these credentials; answer with `authenticated(Principal | Refusal)`."""

    mechanism: str  # USER (for USER/PASS), PLAIN, LOGIN
    username: str
    secret: str


@dataclass(frozen=True, slots=True)
class OpenMaildrop:
    """Take the maildrop of this principal; answer with `maildrop_opened(entries | None)`."""

    principal: Principal


@dataclass(frozen=True, slots=True)
class LoadMessage:
    """Read this whole message; answer with `message_loaded(bytes)`."""

    message_id: int


@dataclass(frozen=True, slots=True)
class CommitDeletes:
    """Move these messages to Recoverable Items; answer with `deletes_committed()`."""

    message_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class StartTLS:
    """Send what is pending, then negotiate TLS; answer with `tls_started()` (or close).

    Input received until then is discarded (STLS command injection). Call `tls_started()`
    before feeding the first decrypted bytes, which may arrive with the handshake's end.
    """


Event = NeedData | Close | Authenticate | OpenMaildrop | LoadMessage | CommitDeletes | StartTLS

NEED_DATA = NeedData()
CLOSE = Close()
START_TLS = StartTLS()

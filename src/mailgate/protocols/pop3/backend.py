"""What the POP3 door needs from the rest of mailgate, as one small interface.

The asyncio listener talks only to a `Pop3Backend`; `mailgate.protocols.pop3.service` (or a
fake in unit tests) implements it on top of the gate, the store and the session registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["MaildropEntry", "Pop3Backend", "Principal", "Refusal"]

from mailgate.auth.gate import Principal
from mailgate.protocols.refusals import Refusal


@dataclass(frozen=True)
class MaildropEntry:
    """One message of the maildrop as of sign-in."""

    message_id: int
    uidl: str
    size: int  # octets of the CRLF message as RETR sends it (before dot-stuffing)


class Pop3Backend(Protocol):
    #: True when read_message always returns CRLF line ends (lets RETR skip a scan).
    messages_are_crlf: bool

    async def authenticate(
        self, mechanism: str, username: str, secret: str, peer: str, tls: bool
    ) -> Principal | Refusal:
        """Check credentials, then the access decision. mechanism: USER, PLAIN, LOGIN..."""

    async def open_maildrop(
        self, principal: Principal, session_id: str, peer: str, on_close: Callable[[], None]
    ) -> list[MaildropEntry] | None:
        """Take the maildrop (INBOX) for this session and register it as live.

        Returns None when another session already holds it ([IN-USE]). `on_close()` is called
        on the event loop when the door closes while the session is live (compromise, policy
        change); the listener must then close the connection at once (SPEC §5).
        """

    async def read_message(self, principal: Principal, message_id: int) -> bytes:
        """The whole CRLF message."""

    # Optional: `read_message_now(principal, message_id) -> bytes | None` answers at once
    # (no task, no await) when it cheaply can, and None to fall back to read_message.

    async def commit_deletes(self, principal: Principal, message_ids: list[int]) -> None:
        """UPDATE state: move these messages to Recoverable Items (never destroy them)."""

    async def close_maildrop(self, principal: Principal, session_id: str) -> None:
        """Release the maildrop and unregister the live session (always called)."""

"""A second SMTP server on loopback for the outbound tests, playing the smarthost or a
domain's MX host: an aiosmtpd server that keeps what it receives (envelope and bytes), can
refuse recipients (5xx), answer every recipient with a 4xx, or be down (its port closed)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from live_server import free_port

REFUSED = "nobody"  # the smarthost refuses recipients whose local part starts so
ESCAPE = "\x1b[31mred"


@dataclass
class Smarthost:
    """What the smarthost received (envelope sender, recipients, bytes), and how it answers."""

    port: int = field(default_factory=free_port)
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    tempfail: bool = False
    controller: Controller | None = None

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        if address.startswith(REFUSED):
            return f"550 5.1.1 <{address}>: unknown user"
        if self.tempfail:
            return f"451 4.3.0 try later {ESCAPE}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        self.received.append((str(envelope.mail_from), list(envelope.rcpt_tos),
                              envelope.original_content))
        return "250 OK queued"

    def up(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def down(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def arrived(self, subject: str) -> list[tuple[str, list[str], bytes]]:
        return [r for r in self.received if f"Subject: {subject}\r\n".encode() in r[2]]


@pytest.fixture(scope="module")
def smarthost() -> Iterator[Smarthost]:
    """A module's smarthost, up for its tests (a fixture of the integration conftest)."""
    host = Smarthost()
    host.up()
    yield host
    host.down()

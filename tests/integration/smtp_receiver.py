"""A second SMTP server on loopback for the outbound tests, playing the smarthost or a
domain's MX host: an aiosmtpd server that keeps what it receives (envelope and bytes), can
refuse recipients (5xx), answer every recipient with a 4xx, or be down (its port closed).
With `dsn` it offers DSN (RFC 3461) and keeps the MAIL and RCPT lines it was sent."""

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
    dsn: bool = False
    commands: list[str] = field(default_factory=list)  # MAIL and RCPT arguments (dsn)

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        if self.dsn:
            return [*responses[:-1], "250-DSN", responses[-1]]
        return responses

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
        self.controller = _DsnController(self, hostname="127.0.0.1", port=self.port)
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


class _DsnSMTP(SMTP):
    """aiosmtpd refuses every RCPT parameter: with `dsn`, the DSN ones are kept aside."""

    async def smtp_MAIL(self, arg: str | None) -> None:
        await super().smtp_MAIL(self._kept(arg))

    async def smtp_RCPT(self, arg: str | None) -> None:
        await super().smtp_RCPT(self._kept(arg))

    def _kept(self, arg: str | None) -> str | None:
        host = self.event_handler
        if not isinstance(host, Smarthost) or not host.dsn or arg is None:
            return arg
        host.commands.append(arg)
        return " ".join(w for w in arg.split()
                        if not w.upper().startswith(("RET=", "ENVID=", "NOTIFY=", "ORCPT=")))


class _DsnController(Controller):
    def factory(self) -> SMTP:
        return _DsnSMTP(self.handler, **self.SMTP_kwargs)

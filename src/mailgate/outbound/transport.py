"""One SMTP transaction with a remote server (the smarthost or a domain's MX), on smtplib.

Each recipient comes back delivered, failed for good (a 5xx) or deferred (4xx, no answer).
The sender's DSN requests (RET, ENVID, NOTIFY, ORCPT) go along when the remote offers DSN;
otherwise the delivered recipients come back `unreported` too (the runner reports them).
`before_dot` runs after the message body and before the final dot, which is the moment the
remote may take the message: the runner records it then, so an attempt cut off after it is
never repeated on its own. A connection lost after the dot leaves those recipients uncertain.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from mailgate.outbound.queue import Recipient

TIMEOUT = 60.0
_DOT_AT_LINE_START = re.compile(rb"(?m)^\.")
_DSN_MAIL = ("RET=", "ENVID=")  # MAIL parameters only a next hop offering DSN takes


@dataclass(frozen=True)
class Target:
    """Where and how to connect."""

    host: str
    port: int
    tls: str  # starttls | tls | none | opportunistic (MX: STARTTLS if offered, unverified)
    username: str = ""
    password: str = ""
    name: str = ""  # the MX host's name when `host` is its address

    @property
    def shown(self) -> str:
        """How replies and errors name the host: mx.example[192.0.2.1], or the host."""
        return f"{self.name}[{self.host}]" if self.name else self.host


@dataclass
class Outcome:
    delivered: list[Recipient] = field(default_factory=list)
    failed: list[tuple[Recipient, str]] = field(default_factory=list)
    deferred: list[tuple[Recipient, str]] = field(default_factory=list)
    uncertain: list[Recipient] = field(default_factory=list)
    #: delivered to a next hop that does not offer DSN: it reports nothing (RFC 3461 §6.2.2)
    unreported: list[Recipient] = field(default_factory=list)
    #: no SMTP answer at all (connection refused, TLS failed...): another host may do
    unreachable: bool = False


class _Unreachable(Exception):
    """No SMTP conversation worth its name with this host."""


def reply_text(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"[:500]


def _answer(code: int, message: bytes, command: str) -> str:
    return f"{reply_text(code, message)} (in reply to {command})"


def stuffed(data: bytes) -> bytes:
    """The message as DATA carries it: CRLF-ended, dots doubled at line starts."""
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return _DOT_AT_LINE_START.sub(b"..", data)


def send(target: Target, helo: str, sender: str, recipients: list[Recipient], data: bytes,
         mail_options: list[str], before_dot: Callable[[list[Recipient]], None]) -> Outcome:
    """Offer the message to `target` for `recipients`."""
    outcome = Outcome()
    try:
        client = _connect(target, helo)
    except (OSError, smtplib.SMTPException, _Unreachable) as exc:
        outcome.unreachable = True
        outcome.deferred = [(r, f"{target.shown}:{target.port}: {_said(exc)}")
                            for r in recipients]
        return outcome
    with client:
        _transaction(client, target, sender, recipients, data, mail_options, before_dot,
                     outcome)
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return outcome


def _said(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return reply_text(exc.smtp_code, exc.smtp_error)
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _connect(target: Target, helo: str) -> smtplib.SMTP:
    verified = ssl.create_default_context()
    if target.tls == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(target.host, target.port, local_hostname=helo,
                                                timeout=TIMEOUT, context=verified)
    else:
        client = smtplib.SMTP(target.host, target.port, local_hostname=helo, timeout=TIMEOUT)
    try:
        code, message = client.ehlo()
        if code != 250:
            raise _Unreachable(f"EHLO: {reply_text(code, message)}")
        offers_tls = client.has_extn("starttls")
        if target.tls == "starttls" and not offers_tls:
            raise _Unreachable("the relay does not offer STARTTLS (server.relay_tls)")
        if target.tls == "starttls" or (target.tls == "opportunistic" and offers_tls):
            context = verified
            if target.tls == "opportunistic":  # RFC 7435: encryption without authentication
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            client.starttls(context=context)
            client.ehlo()
        if target.username:
            if target.tls == "none":
                raise _Unreachable("relay_username is set, but AUTH is sent only over TLS")
            client.login(target.username, target.password)
    except BaseException:
        client.close()
        raise
    return client


def _transaction(client: smtplib.SMTP, target: Target, sender: str,
                 recipients: list[Recipient], data: bytes, mail_options: list[str],
                 before_dot: Callable[[list[Recipient]], None], outcome: Outcome) -> None:
    accepted: list[Recipient] = []
    dot_sent = False
    try:
        if "SMTPUTF8" in mail_options and not client.has_extn("smtputf8"):
            outcome.failed = [(r, f"{target.shown} does not accept SMTPUTF8 mail (5.6.7)")
                              for r in recipients]
            return
        dsn = client.has_extn("dsn")
        options = [o for o in mail_options if (o != "SMTPUTF8" or client.has_extn("smtputf8"))
                   and (dsn or not o.upper().startswith(_DSN_MAIL))]
        code, message = client.mail(sender, options)
        if code != 250:
            _classify(outcome, recipients, code, _answer(code, message, "MAIL FROM"))
            return
        for r in recipients:
            code, message = client.rcpt(r.address, r.options.split() if dsn else ())
            if code in (250, 251):
                accepted.append(r)
            else:
                _classify(outcome, [r], code, _answer(code, message, "RCPT TO"))
        if not accepted:
            client.rset()
            return
        client.putcmd("data")
        code, message = client.getreply()
        if code != 354:
            _classify(outcome, accepted, code, _answer(code, message, "DATA"))
            return
        client.send(stuffed(data))
        before_dot(accepted)
        dot_sent = True
        client.send(b".\r\n")
        code, message = client.getreply()
        if code == 250:
            outcome.delivered = accepted
            outcome.unreported = [] if dsn else accepted
        else:
            _classify(outcome, accepted, code, _answer(code, message, "end of DATA"))
    except (OSError, smtplib.SMTPException) as exc:
        if dot_sent:
            outcome.uncertain = accepted
            return
        answered = {r.row_id for r, _ in outcome.failed + outcome.deferred}
        outcome.deferred += [(r, f"{target.shown}: {_said(exc)}") for r in recipients
                             if r.row_id not in answered]


def _classify(outcome: Outcome, recipients: list[Recipient], code: int, said: str) -> None:
    if 500 <= code < 600:
        outcome.failed += [(r, said) for r in recipients]
    else:
        outcome.deferred += [(r, said) for r in recipients]

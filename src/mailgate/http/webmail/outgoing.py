"""A message written in the webmail, made and sent: recipients checked as the SMTP door
checks them (characters, local mailbox exists, at most `server.max_recipients_per_message`,
the plan's hourly sending limits), the MIME message built with the account's own address in
From (so `senders.from_refusal` never fires, but is asked anyway), then handed to
`protocols.smtp.submit` — the SMTP submission door's own pipeline (signature, Sent copy,
local delivery, outbound queue, audit, count). A reply gets In-Reply-To and References and
marks the original answered; a forward carries the original's attachments. Drafts are
saved to the Drafts folder (the one replaced goes to Recoverable Items). Blocking: call in a
thread.
"""

from __future__ import annotations

import asyncio
import email.policy
import email.utils
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage

from mailgate.directory.errors import NotFound
from mailgate.http.webmail import message_view
from mailgate.http.websession import WebAccount
from mailgate.protocols.smtp import limits, senders, submit, trace
from mailgate.protocols.smtp.addresses import domain_of, has_control, problem
from mailgate.protocols.smtp.recipients import Local, Remote, classify
from mailgate.service import Service
from mailgate.store import browse
from mailgate.store.blobs import BlobStore
from mailgate.store.commits import GroupCommit
from mailgate.store.messages import Incoming, MessageRejected, to_recoverable
from mailgate.store.transfer import append

_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
MAX_ADDRESS = 320


class NotSent(Exception):
    """Why the message was not sent or saved: a sentence for the compose page."""


@dataclass
class Written:
    """What the compose form holds."""

    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    body: str = ""
    reply_of: int | None = None
    forward_of: int | None = None
    draft_of: int | None = None
    uploads: list[tuple[str, str, bytes]] = field(default_factory=list)  # name, type, data


def addresses(value: str) -> list[tuple[str, str]]:
    """(name, address) pairs of a To/Cc/Bcc field; NotSent naming the first bad one."""
    pairs = []
    for name, address in email.utils.getaddresses([value]):
        if not name and not address:
            continue
        if address.count("@") != 1 or len(address) > MAX_ADDRESS or \
                problem(address, smtputf8=True) or " " in address or \
                not all(address.partition("@")[::2]):
            raise NotSent(f"“{(address or name)[:100]}” is not an email address.")
        pairs.append((" ".join(name.split()) if not has_control(name) else "", address))
    return pairs


def _header_list(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(email.utils.formataddr(p) for p in pairs)


class Outgoing:
    def __init__(self, svc: Service, blobs: BlobStore, commits: GroupCommit) -> None:
        self.svc = svc
        self.blobs = blobs
        self.commits = commits  # the server's delivery writer, shared with the SMTP doors

    def _original(self, account: WebAccount, message_id: int | None
                  ) -> EmailMessage | None:
        if message_id is None:
            return None
        with self.svc.reader.connect() as conn:
            row = browse.message(conn, account.account_id, message_id)
        return message_view.parse(self.blobs.read(row.digest))

    def build(self, account: WebAccount, written: Written, draft: bool = False
              ) -> tuple[bytes, list[str]]:
        """The message and its envelope recipients (To, Cc and Bcc)."""
        to, cc, bcc = (addresses(written.to), addresses(written.cc), addresses(written.bcc))
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = email.utils.formataddr((account.name, account.address))
        if to:
            message["To"] = _header_list(to)
        if cc:
            message["Cc"] = _header_list(cc)
        if draft and bcc:
            message["Bcc"] = _header_list(bcc)
        message["Subject"] = " ".join(written.subject.split())[:900]
        message["Date"] = email.utils.format_datetime(datetime.now().astimezone())
        message["Message-ID"] = email.utils.make_msgid(domain=domain_of(account.address))
        original = self._original(account, written.reply_of)
        if original is not None:
            parent = message_view.header(original, "Message-ID")
            if parent:
                message["In-Reply-To"] = parent
                message["References"] = " ".join(
                    [*message_view.header(original, "References").split(), parent][-20:])
        message["MIME-Version"] = "1.0"
        message.set_content(written.body.replace("\r\n", "\n"))
        forwarded = self._original(account, written.forward_of)
        if forwarded is not None:
            for i, part in enumerate(message_view.attachment_parts(forwarded)):
                data = part.get_payload(decode=True)
                self._attach(message, message_view.safe_filename(part.get_filename(),
                                                                 f"attachment-{i + 1}"),
                             part.get_content_type(), data if isinstance(data, bytes) else b"")
        for name, content_type, data in written.uploads:
            self._attach(message, message_view.safe_filename(name), content_type, data)
        return message.as_bytes(), [a for _, a in (*to, *cc, *bcc)]

    @staticmethod
    def _attach(message: EmailMessage, name: str, content_type: str, data: bytes) -> None:
        content_type = content_type.lower()
        if not _CONTENT_TYPE.match(content_type) or content_type.startswith("multipart/"):
            content_type = "application/octet-stream"
        maintype, subtype = content_type.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)

    async def send(self, account: WebAccount, written: Written, peer: str, tls: bool) -> str:
        """Send it; the queue id. NotSent with the reason when it cannot go."""
        content, unique, envelope = await asyncio.to_thread(self._checked, account, written)
        who = submit.Submitter(account.account_id, account.address, "password", peer, "web")
        hostname = str(self.svc.settings.get("server", "hostname"))
        protocol = trace.with_name("HTTP", tls, True)

        def received(queue_id: str) -> bytes:
            return trace.received(helo="webmail", peer=peer, hostname=hostname,
                                  protocol=protocol, queue_id=queue_id,
                                  recipient=unique[0] if len(unique) == 1 else None,
                                  when=datetime.now().astimezone())

        try:
            outcome = await submit.submit(self.svc, self.commits, who, content, envelope,
                                          received)
        except MessageRejected:
            raise NotSent("The message is too large to send.") from None
        assert outcome is not None  # nothing closes the door between here and there
        if outcome.refused:
            raise NotSent(f"There is no mailbox {min(outcome.refused)} here.")
        await asyncio.to_thread(self._after, account, written, answered=True)
        return outcome.queue_id

    def _checked(self, account: WebAccount, written: Written
                 ) -> tuple[bytes, list[str], submit.Envelope]:
        """The message, its recipients (each once) and its envelope (the local and the
        remote ones, the plan's Sent copy); NotSent when a limit, the sender or the
        recipients forbid it."""
        content, recipients = self.build(account, written)
        unique = list(dict.fromkeys(r.lower() for r in recipients))
        if not unique:
            raise NotSent("Add at least one recipient.")
        most = int(self.svc.settings.get("server", "max_recipients_per_message"))
        if len(unique) > most:
            raise NotSent(f"A message may go to at most {most} recipients.")
        standing = limits.standing_now(self.svc, account.account_id)
        for asked in (0, len(unique)):
            found = standing.exceeded(asked)
            if found is not None:
                raise NotSent(found.text + ".")
        refusal = senders.from_refusal(content, account.address)
        if refusal:
            raise NotSent(refusal.split(" ", 2)[-1])
        local, remote = self._where(unique)
        return content, unique, submit.Envelope(local, remote, len(unique),
                                                keep_sent=standing.allowed.sent_copy)

    def _where(self, recipients: list[str]) -> tuple[dict[str, str], list[str]]:
        local: dict[str, str] = {}
        remote: list[str] = []
        domain = str(self.svc.settings.get("server", "domain")).lower()
        with self.svc.reader.connect() as conn:
            for address in recipients:
                verdict = classify(conn, address, domain, self.svc.clock())
                if isinstance(verdict, Local):
                    local[address] = verdict.account
                elif isinstance(verdict, Remote):
                    remote.append(address)
                else:
                    raise NotSent(f"There is no mailbox {address} here.")
        return local, remote

    def save_draft(self, account: WebAccount, written: Written) -> None:
        content, _ = self.build(account, written, draft=True)
        with self.svc.reader.connect() as conn:
            name = browse.drafts_folder(conn, account.account_id)
        try:
            append(self.svc, account.account_id, name,
                   [Incoming(content, ("\\Draft", "\\Seen"))])
        except MessageRejected:
            raise NotSent("The draft is too large to save.") from None
        self._after(account, written, answered=False)

    def _after(self, account: WebAccount, written: Written, answered: bool) -> None:
        """The original of a reply is answered; the draft this replaces goes away."""
        now = self.svc.clock()
        with self.svc.engine.begin() as conn:
            if answered and written.reply_of is not None:
                browse.set_flag(conn, account.account_id, [written.reply_of], "\\Answered",
                                True)
            if written.draft_of is not None:
                try:
                    row = browse.message(conn, account.account_id, written.draft_of)
                except NotFound:
                    return
                if row.special_use == "\\Drafts":
                    to_recoverable(conn, account.account_id, [int(row.id)], now)

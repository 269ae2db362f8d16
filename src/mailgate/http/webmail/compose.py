"""Writing (`GET /mail/compose`: new, `?reply=ID`, `?reply=ID&all=1`, `?forward=ID`,
`?draft=ID`) and sending or saving as a draft (`POST /mail/compose`, multipart with
attachments, capped by `UPLOAD_PATH`'s body limit). The form is shown again with the reason
when the message cannot go."""

from __future__ import annotations

import asyncio
import email.utils

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailgate.directory.errors import NotFound
from mailgate.http import csrf
from mailgate.http.webmail import message_view
from mailgate.http.webmail.base import Webmail
from mailgate.http.webmail.outgoing import NotSent, Outgoing, Written
from mailgate.http.websession import WebAccount
from mailgate.service import Service
from mailgate.store import browse

UPLOAD_PATH = "/mail/compose"
MAX_FILES = 10
MAX_TEXT = 1_000_000


def upload_limit(svc: Service) -> int:
    """The largest compose request: attachments grow by a third in base64, so a body of
    three quarters of the largest message still fits in one."""
    return int(svc.settings.get("storage", "max_message_bytes")) * 3 // 4


def _prefixed(prefix: str, subject: str) -> str:
    return subject if subject.lower().startswith(prefix.lower()) else f"{prefix} {subject}"


def _quoted(shown: message_view.ShownMessage) -> str:
    lines = shown.text.replace("\r\n", "\n").rstrip().split("\n")
    said = f"On {shown.date}, {shown.sender} wrote:" if shown.date else \
        f"{shown.sender} wrote:"
    return (f"\n\n{said}\n"
            + "\n".join(f"> {line}" if line else ">" for line in lines) + "\n")


def _without(addresses: str, own: str) -> str:
    pairs = [p for p in email.utils.getaddresses([addresses]) if p[1].lower() != own]
    return ", ".join(email.utils.formataddr(p) for p in pairs if p[1])


def prefill(shown: message_view.ShownMessage, how: str, own: str) -> Written:
    """The form for a reply, a reply to all, a forward or a draft of `shown`."""
    if how == "forward":
        head = (f"\n\n---------- Forwarded message ----------\nFrom: {shown.sender}\n"
                f"Date: {shown.date}\nSubject: {shown.subject}\nTo: {shown.to}\n")
        if shown.cc:
            head += f"Cc: {shown.cc}\n"
        return Written(subject=_prefixed("Fwd:", shown.subject), body=head + "\n" + shown.text)
    if how == "draft":
        return Written(to=shown.to, cc=shown.cc, subject=shown.subject, body=shown.text)
    to = shown.reply_to or shown.sender
    cc = ""
    if how == "all":
        to = _without(", ".join(x for x in (to, shown.to) if x), own)
        cc = _without(shown.cc, own)
    return Written(to=to, cc=cc, subject=_prefixed("Re:", shown.subject),
                   body=_quoted(shown))


def _id(value: object) -> int | None:
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


async def _written(form: FormData) -> Written:
    uploads = []
    for item in form.getlist("attachment")[:MAX_FILES]:
        if isinstance(item, UploadFile) and item.filename:
            uploads.append((item.filename, item.content_type or "", await item.read()))

    def text(name: str) -> str:
        value = form.get(name, "")
        return value[:MAX_TEXT] if isinstance(value, str) else ""

    return Written(to=text("to"), cc=text("cc"), bcc=text("bcc"), subject=text("subject"),
                   body=text("body"), reply_of=_id(form.get("reply_of")),
                   forward_of=_id(form.get("forward_of")), draft_of=_id(form.get("draft_of")),
                   uploads=uploads)


def routes(mail: Webmail) -> list[Route]:
    outgoing = Outgoing(mail.svc, mail.blobs, mail.commits)

    async def show(request: Request, account: WebAccount) -> Response:
        params = request.query_params
        written = Written(to=params.get("to", "")[:1000])
        forwarding: list[str] = []
        for how, key in (("reply", "reply"), ("forward", "forward"), ("draft", "draft")):
            original = _id(params.get(key))
            if original is None:
                continue

            def load(message_id: int = original) -> message_view.ShownMessage:
                with mail.svc.reader.connect() as conn:
                    row = browse.message(conn, account.account_id, message_id)
                return message_view.show(mail.blobs.read(row.digest))

            try:
                shown = await asyncio.to_thread(load)
            except NotFound:
                return await mail.not_found(request, account)
            kind = "all" if how == "reply" and params.get("all") == "1" else how
            written = prefill(shown, kind, account.address)
            if how == "reply":
                written.reply_of = original
            elif how == "forward":
                written.forward_of = original
                forwarding = [a.filename for a in shown.attachments]
            else:
                written.draft_of = original
            break
        return await form_page(request, account, written, forwarding=forwarding)

    async def form_page(request: Request, account: WebAccount, written: Written,
                        error: str = "", status: int = 200,
                        forwarding: list[str] | None = None) -> Response:
        folders = await asyncio.to_thread(mail.folders, account)
        return mail.page(request, "mail/compose.html", account, folders, status,
                         written=written, error=error, folder="",
                         forwarding=forwarding or [])

    async def send(request: Request, account: WebAccount) -> Response:
        form = await request.form(max_files=MAX_FILES, max_fields=20)
        if not csrf.valid(request, form):
            return await mail.forbidden(request, account)
        written = await _written(form)
        draft = form.get("action") == "draft"
        peer = request.client.host if request.client else ""
        try:
            if draft:
                await asyncio.to_thread(outgoing.save_draft, account, written)
            else:
                await outgoing.send(account, written, peer, request.url.scheme == "https")
                mail.queued()
        except NotSent as why:
            written.uploads = []  # a browser cannot be handed files back: chosen again
            return await form_page(request, account, written, str(why), 400)
        except NotFound:
            return await mail.not_found(request, account)
        return RedirectResponse("/mail?notice=" + ("saved" if draft else "sent"),
                                status_code=303)

    return [Route(UPLOAD_PATH, mail.signed(show), methods=["GET"]),
            Route(UPLOAD_PATH, mail.signed(send), methods=["POST"])]

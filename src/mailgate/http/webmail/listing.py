"""The folder page (`GET /mail`): one page of a folder's messages, sorted, searched and
paged in SQL (`store.browse.page`), with who each is from (to, in Sent and Drafts) read
from the message's header block only."""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import decode_header, make_header

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailgate.http.webmail.base import Webmail
from mailgate.http.websession import WebAccount
from mailgate.store import browse
from mailgate.store.errors import MailboxError

PAGE_SIZE = 50
NOTICES = {"sent": "Your message was sent.", "saved": "Your draft was saved in Drafts."}
MAX_QUERY = 200
#: one address field's value, folded lines included
_FIELDS = {name: re.compile(rb"(?im)^" + name.encode() + rb"[ \t]*:(.*(?:\r?\n[ \t].*)*)")
           for name in ("From", "To")}


@dataclass(frozen=True)
class Listed:
    id: int
    who: str
    subject: str
    when: str
    size: str
    seen: bool
    flagged: bool
    answered: bool


def when(ts: float, now: float) -> str:
    local, today = time.localtime(ts), time.localtime(now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M", local)
    if local.tm_year == today.tm_year:
        return time.strftime("%d %b", local)
    return time.strftime("%d %b %Y", local)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def _decoded(text: str) -> str:
    try:
        return str(make_header(decode_header(text)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        return text


def _who(head: bytes, field: str) -> str:
    """The display names (else addresses) in one address field of a header block; only
    that field is looked at (a regular expression, not a parse of the whole block)."""
    values = [" ".join(m.decode("utf-8", "replace").split())
              for m in _FIELDS[field].findall(head)]
    names = [_decoded(name) or address
             for name, address in email.utils.getaddresses(values) if name or address]
    return " ".join(", ".join(names).split()) or "(nobody)"


def _int(value: str, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value)))
    except ValueError:
        return default


def routes(mail: Webmail) -> list[Route]:
    async def folder(request: Request, account: WebAccount) -> Response:
        params = request.query_params
        name = params.get("f", "INBOX")[:512]
        sort = params.get("sort", "received")
        sort = sort if sort in browse.SORTS else "received"
        ascending = params.get("order") == "asc"
        number = _int(params.get("page", "1"), 1, 1, 1_000_000)
        text = " ".join(params.get("q", "").split())[:MAX_QUERY]

        def load() -> tuple[list[browse.FolderSummary], browse.Page | None, list[Listed]]:
            with mail.svc.reader.connect() as conn:
                summaries = browse.folder_summaries(conn, account.account_id)
                try:
                    found = browse.page(conn, account.account_id, name, sort=sort,
                                        descending=not ascending,
                                        offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE,
                                        text=text)
                except MailboxError:
                    return summaries, None, []
            field = "To" if found.folder.special_use in ("\\Sent", "\\Drafts") else "From"
            now = mail.svc.clock()
            listed = []
            for r in found.rows:
                flags = {f.casefold() for f in r.flags.split()}
                listed.append(Listed(
                    int(r.id), _who(mail.blobs.read_range(r.digest, 0, r.header_size), field),
                    r.subject or "(no subject)", when(r.internal_date, now),
                    human_size(int(r.size)), "\\seen" in flags, "\\flagged" in flags,
                    "\\answered" in flags))
            return summaries, found, listed

        summaries, found, listed = await asyncio.to_thread(load)
        if found is None:
            return await mail.not_found(request, account)
        pages = max(1, -(-found.total // PAGE_SIZE))
        first = (number - 1) * PAGE_SIZE
        here = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        special = found.folder.special_use
        return mail.page(
            request, "mail/folder.html", account, summaries, folder=found.folder.name,
            special=special, messages=listed, total=found.total, sort=sort,
            ascending=ascending, page=number, pages=pages, first=first + 1,
            last=min(first + PAGE_SIZE, found.total), query=text, here=here,
            notice=NOTICES.get(params.get("notice", "")),
            who_label="To" if special in ("\\Sent", "\\Drafts") else "From",
            targets=[f.name for f in summaries if f.name != found.folder.name])

    return [Route("/mail", mail.signed(folder), methods=["GET"])]

"""Reading a message (`GET /mail/m/{id}`, marked read as it opens) and downloading one of
its attachments (`GET /mail/m/{id}/a/{n}`: always a download, under a safe file name, never
sniffed). Another account's message id is a plain 404."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote

from sqlalchemy import Row
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailgate.directory.errors import NotFound
from mailgate.http.pages import HEADERS
from mailgate.http.webmail import message_view
from mailgate.http.webmail.base import Webmail
from mailgate.http.websession import WebAccount
from mailgate.store import browse


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII name and the UTF-8 one (RFC 6266 / 8187)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def routes(mail: Webmail) -> list[Route]:
    def owned(account: WebAccount, message_id: int) -> Row:  # type: ignore[type-arg]
        with mail.svc.reader.connect() as conn:
            return browse.message(conn, account.account_id, message_id)

    async def read(request: Request, account: WebAccount) -> Response:
        message_id = int(request.path_params["id"])
        images = request.query_params.get("images") == "1"

        def load() -> tuple[Row, message_view.ShownMessage,  # type: ignore[type-arg]
                            list[browse.FolderSummary]]:
            row = owned(account, message_id)
            if "\\seen" not in row.flags.casefold().split():
                with mail.svc.engine.begin() as conn:
                    browse.set_flag(conn, account.account_id, [message_id], "\\Seen", True)
            shown = message_view.show(mail.blobs.read(row.digest), images)
            return row, shown, mail.folders(account)

        try:
            row, shown, folders = await asyncio.to_thread(load)
        except NotFound:
            return await mail.not_found(request, account)
        flags = {f.casefold() for f in row.flags.split()}
        folder = str(row.folder)
        return mail.page(request, "mail/message.html", account, folders, images=images,
                         id=message_id, message=shown, folder=folder,
                         flagged="\\flagged" in flags, folder_special=row.special_use,
                         showing_images=images,
                         received=time.strftime("%a %d %b %Y %H:%M",
                                                time.localtime(row.internal_date)),
                         targets=[f.name for f in folders if f.name != folder],
                         here=f"/mail/m/{message_id}")

    async def download(request: Request, account: WebAccount) -> Response:
        message_id, index = int(request.path_params["id"]), int(request.path_params["n"])

        def load() -> tuple[str, bytes] | None:
            return message_view.attachment(mail.blobs.read(owned(account, message_id).digest),
                                           index)

        try:
            found = await asyncio.to_thread(load)
        except NotFound:
            found = None
        if found is None:
            return await mail.not_found(request, account)
        filename, data = found
        return Response(data, media_type="application/octet-stream", headers={
            **HEADERS, "Content-Disposition": content_disposition(filename)})

    return [Route("/mail/m/{id:int}", mail.signed(read), methods=["GET"]),
            Route("/mail/m/{id:int}/a/{n:int}", mail.signed(download), methods=["GET"])]

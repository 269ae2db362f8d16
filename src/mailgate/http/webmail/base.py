"""What every webmail page shares: the `web` door on each request, the page frame (folders
with unread counts, the signed-in account), the security headers, and the answers for a
message or folder that is not there."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mailgate.http.pages import render, styled_headers
from mailgate.http.webdoor import WebDoor
from mailgate.http.websession import WebAccount
from mailgate.service import Service
from mailgate.store import browse
from mailgate.store.blobs import BlobStore
from mailgate.store.commits import GroupCommit
from mailgate.store.messages import blob_store

Handler = Callable[[Request, WebAccount], Awaitable[Response]]
HOME = "/mail"


class Webmail:
    """The webmail's state: the service, the door, the delivery writer it shares with the SMTP
    doors, and how to wake the outbound queue."""

    def __init__(self, svc: Service, door: WebDoor, commits: GroupCommit,
                 queued: Callable[[], None]) -> None:
        self.svc = svc
        self.door = door
        self.commits = commits
        self.queued = queued
        self.blobs: BlobStore = blob_store(svc)

    def signed(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """The handler, behind the `web` door (sign-in redirect or refusal otherwise)."""

        async def behind_the_door(request: Request) -> Response:
            outcome = await self.door.enter(request)
            if isinstance(outcome, Response):
                return outcome
            return await handler(request, outcome)

        return behind_the_door

    def folders(self, account: WebAccount) -> list[browse.FolderSummary]:
        with self.svc.reader.connect() as conn:
            return browse.folder_summaries(conn, account.account_id)

    def page(self, request: Request, template: str, account: WebAccount,
             folders: list[browse.FolderSummary], status: int = 200, images: bool = False,
             **context: Any) -> HTMLResponse:
        """A webmail page in its frame; `images`: remote images may load (the message the
        user asked to see them in), and that page leaves htmx out, so that every link from it
        loads a new document under the strict policy again."""
        return render(request, template, status,
                      styled_headers("'self' https: http:" if images else "'self'"),
                      account=account, folders=folders, htmx=not images, **context)

    async def problem(self, request: Request, account: WebAccount, status: int, title: str,
                      detail: str) -> HTMLResponse:
        folders = await asyncio.to_thread(self.folders, account)
        return self.page(request, "mail/problem.html", account, folders, status, title=title,
                         detail=detail)

    async def not_found(self, request: Request, account: WebAccount) -> HTMLResponse:
        return await self.problem(request, account, 404, "Not found",
                                  "There is no such message or folder in your mailbox.")

    async def forbidden(self, request: Request, account: WebAccount) -> HTMLResponse:
        return await self.problem(request, account, 403, "Forbidden",
                                  "The form expired or did not come from this site. Go back, "
                                  "reload the page and try again.")

def safe_back(value: str) -> str:
    """Where a form may send the browser afterwards: a webmail page, nothing else."""
    if (value == HOME or value.startswith((HOME + "/", HOME + "?"))) and "\\" not in value \
            and "//" not in value and len(value) < 4096 and "/." not in value:
        return value
    return HOME

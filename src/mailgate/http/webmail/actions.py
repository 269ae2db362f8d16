"""What the buttons of the folder and message pages do (`POST /mail/act`): delete (to
Deleted Items, from there to Recoverable Items), move, read / unread, flag / unflag — on the
messages ticked (`id`, repeated), then back to the page the form came from. Ids of other
accounts' messages are ignored (`store.browse` only sees the account's own)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailgate.http import csrf
from mailgate.http.webmail.base import HOME, Webmail, safe_back
from mailgate.http.websession import WebAccount
from mailgate.store import browse
from mailgate.store.errors import MailboxError

FLAGS = {"read": ("\\Seen", True), "unread": ("\\Seen", False),
         "flag": ("\\Flagged", True), "unflag": ("\\Flagged", False)}
MAX_IDS = browse.MAX_PAGE


def routes(mail: Webmail) -> list[Route]:
    async def act(request: Request, account: WebAccount) -> Response:
        form = await request.form(max_files=0, max_fields=MAX_IDS + 8)
        if not csrf.valid(request, form):
            return await mail.forbidden(request, account)
        action = str(form.get("action", ""))
        target = str(form.get("target", ""))[:512]
        back = safe_back(str(form.get("back", HOME)))
        try:
            ids = [int(str(v)) for v in form.getlist("id")][:MAX_IDS]
        except ValueError:
            ids = []
        if action not in (*FLAGS, "delete", "move"):
            return await mail.problem(request, account, 400, "That did not work",
                                      "That is not something the webmail does.")

        def change() -> None:
            now = mail.svc.clock()
            with mail.svc.engine.begin() as conn:
                if action == "delete":
                    browse.delete(conn, account.account_id, ids, now)
                elif action == "move":
                    browse.move_to(conn, account.account_id, ids, target, now)
                else:
                    flag, on = FLAGS[action]
                    browse.set_flag(conn, account.account_id, ids, flag, on)

        if ids:
            try:
                await asyncio.to_thread(change)
            except MailboxError:
                return await mail.problem(request, account, 400, "That did not work",
                                          "Choose a folder to move to.")
        if action in ("delete", "move") and back.startswith("/mail/m/"):
            back = safe_back(str(form.get("after", HOME)))  # the message is gone from there
        return RedirectResponse(back, status_code=303)

    return [Route("/mail/act", mail.signed(act), methods=["POST"])]

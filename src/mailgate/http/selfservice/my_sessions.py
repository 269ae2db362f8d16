"""`/account/sessions`: my live mail sessions on every node (door, mail app, client
address, method, since: `events.live.my_sessions`, the rows `mailgate sessions` prints) and
this browser's sign-in, with "sign out everywhere" (`directory.sign_out`), which ends them
all, this browser included, and sends it to the sign-in page."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailgate.directory.sign_out import sign_out_everywhere
from mailgate.events import live
from mailgate.http.selfservice.common import Pages
from mailgate.http.selfservice.signins import METHODS
from mailgate.http.websession import WebAccount
from mailgate.policy.catalogue import DISPLAY


def routes(pages: Pages) -> list[Route]:
    async def show(request: Request, web: WebAccount) -> Response:
        found = await pages.call(live.my_sessions, pages.svc, pages.actor(web), web.address)
        rows = [{"name": DISPLAY.get(str(r["protocol"]), r["protocol"]), "peer": r["peer"],
                 "method": METHODS.get(str(r["method"]), r["method"]), "client": r["client"],
                 "since": datetime.fromisoformat(str(r["started_at"])).timestamp()}
                for r in found]
        return pages.page(request, "sessions.html", web, rows=rows, browser_peer=(
            request.client.host if request.client else ""))

    async def sign_out(request: Request, web: WebAccount) -> Response:
        form = await pages.form(request, max_fields=4)
        if isinstance(form, Response):
            return form
        await pages.call(sign_out_everywhere, pages.svc, pages.actor(web), web.address)
        response = RedirectResponse("/signin", status_code=303)
        pages.sessions.end(response)
        return response

    return [Route("/account/sessions", pages.signed_in(show), methods=["GET"]),
            Route("/account/sessions/sign-out-everywhere", pages.signed_in(sign_out),
                  methods=["POST"])]

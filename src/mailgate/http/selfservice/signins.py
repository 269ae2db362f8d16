"""`/account/sign-ins`: my recent sign-in attempts per door (client id, address, method,
time, result) from the audit log (`audit.signins`), so I can spot one that was not mine."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailgate.audit import signins
from mailgate.http.selfservice.common import Pages
from mailgate.http.websession import WebAccount
from mailgate.policy.catalogue import DISPLAY

METHODS = {"password": "password", "app_password": "app password", "oauth": "OAuth"}


def routes(pages: Pages) -> list[Route]:
    async def show(request: Request, web: WebAccount) -> Response:
        found = await pages.call(signins.recent, pages.svc, pages.actor(web), web.address)
        groups = [{"protocol": p, "name": DISPLAY.get(p, p), "attempts": attempts}
                  for p, attempts in signins.by_door(found).items()]
        return pages.page(request, "signins.html", web, groups=groups, methods=METHODS,
                          limit=signins.LIMIT, total=len(found))

    return [Route("/account/sign-ins", pages.signed_in(show), methods=["GET"])]

"""`/account/devices`: how to set up a mail app for my account — the server settings of each
door open to me (`clientconfig.endpoints`) and an Apple configuration profile to download
(`/account/devices/mail.mobileconfig`). Only the doors open now are offered."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailgate.clientconfig import endpoints, mobileconfig
from mailgate.http.selfservice.common import Pages
from mailgate.http.websession import WebAccount
from mailgate.policy.catalogue import DISPLAY

SOCKETS = {"SSL": "TLS", "STARTTLS": "STARTTLS"}


def routes(pages: Pages) -> list[Route]:
    async def show(request: Request, web: WebAccount, status: int = 200,
                   error: str = "") -> Response:
        found = await pages.call(endpoints.offered, pages.svc, web.account_id)
        rows = [{"name": DISPLAY[e.door], "endpoint": e, "security": SOCKETS[e.socket]}
                for e in found]
        can_profile = endpoints.preferred(found, "smtp") is not None and (
            endpoints.preferred(found, "imap") or endpoints.preferred(found, "pop"))
        return pages.page(request, "devices.html", web, status, rows=rows, error=error,
                          can_profile=bool(can_profile))

    async def page(request: Request, web: WebAccount) -> Response:
        return await show(request, web)

    async def profile(request: Request, web: WebAccount) -> Response:
        found = await pages.call(endpoints.offered, pages.svc, web.account_id)
        try:
            body = mobileconfig.profile(web.address, web.name, found)
        except mobileconfig.NothingToConfigure as exc:
            return await show(request, web, 409, str(exc))
        return Response(body, media_type="application/x-apple-aspen-config", headers={
            "Content-Disposition": 'attachment; filename="mail.mobileconfig"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    return [Route("/account/devices", pages.signed_in(page), methods=["GET"]),
            Route("/account/devices/mail.mobileconfig", pages.signed_in(profile),
                  methods=["GET"])]

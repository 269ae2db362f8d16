"""`/account/app-passwords`: my app passwords — create one scoped to doors open to me, with
an optional expiry (its secret shown once, on the answer to the form), list them with their
last use, revoke one. The same `directory.app_passwords` functions as `mailgate app-password
create|list|revoke`; they refuse a door that is not open to a user."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailgate.directory import app_passwords, listing
from mailgate.directory.errors import DirectoryError
from mailgate.http.selfservice.common import Pages, status_of
from mailgate.http.websession import WebAccount
from mailgate.policy.catalogue import DISPLAY

#: the doors an app password can open
DOORS = ("imap", "pop", "smtp")
#: the expiry choices of the form: value -> (seconds or None, label)
EXPIRY = {"never": (None, "Never (until revoked)"), "1d": (86400, "In 1 day"),
          "30d": (30 * 86400, "In 30 days"), "90d": (90 * 86400, "In 90 days"),
          "365d": (365 * 86400, "In 1 year")}


def routes(pages: Pages) -> list[Route]:
    async def listing_page(request: Request, web: WebAccount, status: int = 200,
                           **extra: object) -> Response:
        actor = pages.actor(web)
        report = await pages.call(listing.show_account, pages.svc, actor, web.address)
        found = await pages.call(app_passwords.list_for, pages.svc, actor, web.address)
        now = pages.svc.clock()
        doors = [{"protocol": p, "name": DISPLAY[p], "open": report.decisions[p].allowed,
                  "detail": report.decisions[p].detail} for p in DOORS]
        context: dict[str, object] = {"created": None, "secret": "", "error": "", **extra}
        return pages.page(request, "app_passwords.html", web, status, doors=doors,
                          entries=[{"entry": e, "status": e.status(now)}
                                   for e in reversed(found)],
                          expiry=EXPIRY, display=DISPLAY,
                          revoked=request.query_params.get("revoked") == "1", **context)

    async def show(request: Request, web: WebAccount) -> Response:
        return await listing_page(request, web)

    async def create(request: Request, web: WebAccount) -> Response:
        form = await pages.form(request, max_fields=16)
        if isinstance(form, Response):
            return form
        chosen = [str(p) for p in form.getlist("protocol")]
        label = " ".join(str(form.get("label", "")).split())
        expiry = str(form.get("expires", "never"))
        if expiry not in EXPIRY or not chosen or any(p not in DOORS for p in chosen):
            return await listing_page(request, web, 400, error="Choose at least one door "
                                      "and one of the expiry choices.")
        try:
            made, secret = await pages.call(app_passwords.create, pages.svc,
                                            pages.actor(web), web.address, chosen, label,
                                            EXPIRY[expiry][0])
        except DirectoryError as exc:
            return await listing_page(request, web, status_of(exc), error=str(exc))
        return await listing_page(request, web, created=made, secret=secret)

    async def revoke(request: Request, web: WebAccount) -> Response:
        form = await pages.form(request, max_fields=4)
        if isinstance(form, Response):
            return form
        raw = str(form.get("id", ""))
        if not raw.isdigit() or len(raw) > 12:
            return await listing_page(request, web, 400, error="No such app password.")
        try:
            await pages.call(app_passwords.revoke, pages.svc, pages.actor(web), web.address,
                             int(raw))
        except DirectoryError as exc:
            return await listing_page(request, web, status_of(exc), error=str(exc))
        return RedirectResponse("/account/app-passwords?revoked=1", status_code=303)

    return [Route("/account/app-passwords", pages.signed_in(show), methods=["GET"]),
            Route("/account/app-passwords", pages.signed_in(create), methods=["POST"]),
            Route("/account/app-passwords/revoke", pages.signed_in(revoke),
                  methods=["POST"])]

"""`/account/recover`: my Recoverable Items (deleted mail kept for the retention period) and
restoring chosen ones or all — `directory.recovery`, as `mailgate recover list|restore`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailgate.directory import recovery
from mailgate.directory.errors import DirectoryError
from mailgate.http.selfservice.common import Pages, status_of
from mailgate.http.websession import WebAccount

#: the newest this many are listed to choose from ("Restore all" takes every one)
MAX_SHOWN = 500


def routes(pages: Pages) -> list[Route]:
    async def listing(request: Request, web: WebAccount, status: int = 200,
                      error: str = "") -> Response:
        items = await pages.call(recovery.list_items, pages.svc, pages.actor(web), web.address)
        restored = request.query_params.get("restored", "")
        newest = list(reversed(items))
        return pages.page(request, "recover.html", web, status, items=newest[:MAX_SHOWN],
                          more=max(0, len(newest) - MAX_SHOWN),
                          error=error, retention_days=pages.svc.retention // 86400,
                          restored=int(restored) if restored.isdigit() and len(restored) < 9
                          else None)

    async def show(request: Request, web: WebAccount) -> Response:
        return await listing(request, web)

    async def restore(request: Request, web: WebAccount) -> Response:
        form = await pages.form(request, max_fields=MAX_SHOWN + 4)
        if isinstance(form, Response):
            return form
        every = form.get("all") == "1"
        raw = [str(v) for v in form.getlist("id")]
        if not every and (not raw or not all(v.isdigit() and len(v) < 12 for v in raw)):
            return await listing(request, web, 400, "Choose the messages to restore.")
        try:
            count = await pages.call(recovery.restore, pages.svc, pages.actor(web),
                                     web.address, every, [] if every else
                                     sorted({int(v) for v in raw}))
        except DirectoryError as exc:
            return await listing(request, web, status_of(exc), str(exc))
        return RedirectResponse(f"/account/recover?restored={count}", status_code=303)

    return [Route("/account/recover", pages.signed_in(show), methods=["GET"]),
            Route("/account/recover", pages.signed_in(restore), methods=["POST"])]

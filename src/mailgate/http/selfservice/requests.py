"""`/account/requests`: ask for a door to be turned on or off — a case opened as the user
(SPEC §4, `cases.open_case`, as `mailgate case open`) — and follow my cases' progress
(`open -> escalated -> approved | denied`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailgate.directory import cases
from mailgate.directory.errors import DirectoryError
from mailgate.http.selfservice.common import Pages, status_of
from mailgate.http.websession import WebAccount
from mailgate.policy.catalogue import DISPLAY, PROTOCOLS

MAX_NOTE = 2000
STEPS = ("open", "escalated", "decided")


def _progress(status: str) -> list[tuple[str, str]]:
    """(step, done | current | todo) for the progress line of one case."""
    reached = {"open": 0, "escalated": 1, "approved": 2, "denied": 2}[status]
    return [(status if i == 2 and reached == 2 else step,
             "current" if i == reached else "done" if i < reached else "todo")
            for i, step in enumerate(STEPS)]


def routes(pages: Pages) -> list[Route]:
    async def listing(request: Request, web: WebAccount, error: str = "",
                      status: int = 200) -> Response:
        mine = await pages.call(cases.list_cases, pages.svc, pages.actor(web))
        shown = [{"case": c, "name": DISPLAY.get(c.protocol, c.protocol),
                  "progress": _progress(c.status)} for c in reversed(mine)]
        opened = request.query_params.get("opened", "")
        return pages.page(request, "requests.html", web, status, cases=shown, error=error,
                          opened=int(opened) if opened.isdigit() and len(opened) < 12 else None)

    async def show(request: Request, web: WebAccount) -> Response:
        return await listing(request, web)

    async def submit(request: Request, web: WebAccount) -> Response:
        form = await pages.form(request, max_fields=8)
        if isinstance(form, Response):
            return form
        protocol, want = str(form.get("protocol", "")), str(form.get("want", ""))
        note = " ".join(str(form.get("note", "")).split())  # one line, as a note is kept
        if protocol not in PROTOCOLS or want not in ("on", "off"):
            return await listing(request, web, "Choose a door and whether it should be on "
                                 "or off.", 400)
        if not note or len(note) > MAX_NOTE:
            return await listing(request, web, f"Say in a few words (at most {MAX_NOTE} "
                                 "characters) why you need the change.", 400)
        try:
            case_id = await pages.call(cases.open_case, pages.svc, pages.actor(web),
                                       web.address, protocol, want == "on", note)
        except DirectoryError as exc:
            return await listing(request, web, str(exc), status_of(exc))
        return RedirectResponse(f"/account/requests?opened={case_id}", status_code=303)

    return [Route("/account/requests", pages.signed_in(show), methods=["GET"]),
            Route("/account/requests", pages.signed_in(submit), methods=["POST"])]

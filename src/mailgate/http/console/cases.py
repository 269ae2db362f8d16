"""The cases queue: open and escalated cases (or all) with their notes, and each step a case
can take — a note, escalate, approve (optionally for a time), deny — as the signed-in staff
member."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailgate.directory import authority, cases
from mailgate.directory.authority import Actor
from mailgate.durations import parse_duration
from mailgate.http.console.accounts import DURATIONS
from mailgate.http.console.rendering import PREFIX, render
from mailgate.http.console.staff import (
    Console,
    Refusal,
    attempt,
    field,
    refusal_of,
    refused_by,
    staff_only,
)

FILTERS = {"waiting": ("open", "escalated"), "escalated": ("escalated",),
           "decided": ("approved", "denied"), "all": ("open", "escalated", "approved", "denied")}
DONE = {"noted": "The note was added to the case.",
        "escalated": "The case was escalated to the mail team.",
        "approved": "The case was approved and its change applied.",
        "denied": "The case was denied."}


def _steps(console: Console, actor: Actor, case: cases.Case) -> dict[str, object]:
    """What the actor may do to this case now (an approval the role may not give is not
    offered: the case is escalated instead)."""
    waiting = case.status in ("open", "escalated")
    staff = refused_by(authority.require_staff, actor, "") is None
    approve = refused_by(authority.require_protocol_change, actor, case.account, case.protocol,
                         case.want == "on", console.svc.restricted)
    return {"note": waiting and staff,
            "escalate": waiting and staff and case.status == "open",
            "approve": waiting and staff and approve is None,
            "deny": waiting and staff}


def routes(console: Console) -> list[Route]:
    svc = console.svc

    async def queue(request: Request, actor: Actor, refusal: Refusal | None = None
                    ) -> Response:
        not_staff = refused_by(authority.require_staff, actor, "work the cases queue")
        if not_staff is not None:
            return render(request, actor, "message.html", 403, section="cases",
                          title="Cases", detail=not_staff)
        shown = request.query_params.get("show", "waiting")
        statuses = FILTERS.get(shown, FILTERS["waiting"])
        listed = [c for c in await asyncio.to_thread(cases.list_cases, svc, actor)
                  if c.status in statuses]
        listed.reverse()
        notes = await asyncio.to_thread(cases.notes_of, svc, actor, [c.id for c in listed])
        return render(request, actor, "cases.html", refusal.status if refusal else 200,
                      section="cases", cases=[(c, _steps(console, actor, c)) for c in listed],
                      notes=notes,
                      show=shown if shown in FILTERS else "waiting", filters=list(FILTERS),
                      durations=DURATIONS, refusal=refusal.message if refusal else "",
                      done=DONE.get(request.query_params.get("done", ""), ""))

    async def step(request: Request, actor: Actor) -> Response:
        form = await console.form(request)
        if isinstance(form, Response):
            return form
        action = request.url.path.rsplit("/", 1)[1]
        case_id = request.path_params["case"]
        refusal: Refusal | None
        if action == "note":
            refusal = await attempt(cases.add_note, svc, actor, case_id, field(form, "note"))
        elif action == "escalate":
            refusal = await attempt(cases.escalate, svc, actor, case_id)
        elif action == "deny":
            refusal = await attempt(cases.deny, svc, actor, case_id)
        else:
            try:
                duration = field(form, "for")
                seconds = parse_duration(duration) if duration else None
            except ValueError as error:
                return await queue(request, actor, refusal_of(error))
            refusal = await attempt(cases.approve, svc, actor, case_id, seconds)
        if refusal is not None:
            return await queue(request, actor, refusal)
        done = {"note": "noted", "escalate": "escalated", "deny": "denied",
                "approve": "approved"}[action]
        return RedirectResponse(f"{PREFIX}/cases?done={done}", status_code=303)

    return [Route(PREFIX + "/cases", staff_only(console, queue), methods=["GET"]),
            *(Route(PREFIX + "/cases/{case:int}/" + action, staff_only(console, step),
                    methods=["POST"]) for action in ("note", "escalate", "approve", "deny"))]

"""Department policies (for the mail team and each department's dept-admins) and plan
defaults (the mail team), with `plan set`'s counts of existing accounts shown before the
choice between keeping and following (SPEC §3)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailgate.directory import doors, listing
from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError
from mailgate.http.console.rendering import PREFIX, render
from mailgate.http.console.staff import Console, Refusal, attempt, field, refusal_of, staff_only


def routes(console: Console) -> list[Route]:
    svc = console.svc

    async def departments(request: Request, actor: Actor, refusal: Refusal | None = None
                          ) -> Response:
        found = await asyncio.to_thread(listing.department_policies, svc, actor)
        done = "The department's policy was changed; its accounts' live sessions on a " \
               "denied door end within a second." if request.query_params.get("done") else ""
        return render(request, actor, "departments.html", refusal.status if refusal else 200,
                      section="departments", departments=found, done=done,
                      refusal=refusal.message if refusal else "")

    async def department_policy(request: Request, actor: Actor) -> Response:
        form = await console.form(request)
        if isinstance(form, Response):
            return form
        value = field(form, "value")
        refusal = Refusal("say deny or inherit", 400) if value not in ("deny", "inherit") \
            else await attempt(doors.set_department_policy, svc, actor, field(form, "department"),
                               field(form, "protocol"), value == "deny")
        if refusal is not None:
            return await departments(request, actor, refusal)
        return RedirectResponse(f"{PREFIX}/departments?done=1", status_code=303)

    async def plans(request: Request, actor: Actor, refusal: Refusal | None = None,
                    preview: doors.PlanChange | None = None) -> Response:
        try:
            defaults = await asyncio.to_thread(listing.plan_defaults_of, svc, actor)
        except DirectoryError as error:
            problem = refusal_of(error)
            return render(request, actor, "message.html", problem.status, section="plans",
                          title="Plans", detail=problem.message)
        done = request.query_params.get("done", "")
        return render(request, actor, "plans.html", refusal.status if refusal else 200,
                      section="plans", plans=defaults, preview=preview,
                      refusal=refusal.message if refusal else "",
                      done="The plan's default was changed." if done else "")

    async def plan_change(request: Request, actor: Actor) -> Response:
        """First a preview (the counts of SPEC §3), then the change with the choice made."""
        form = await console.form(request)
        if isinstance(form, Response):
            return form
        plan, protocol, value = field(form, "plan"), field(form, "protocol"), field(form, "value")
        existing = field(form, "existing") or None
        if value not in ("on", "off"):
            return await plans(request, actor, Refusal("say on or off", 400))
        try:
            change = await asyncio.to_thread(doors.plan_set, svc, actor, plan, protocol,
                                             value == "on", existing, existing is None)
        except (DirectoryError, ValueError) as error:
            return await plans(request, actor, refusal_of(error))
        if not change.applied:
            return await plans(request, actor, preview=change)
        return RedirectResponse(f"{PREFIX}/plans?" + urlencode({"done": 1}), status_code=303)

    return [Route(PREFIX + "/departments", staff_only(console, departments), methods=["GET"]),
            Route(PREFIX + "/departments", staff_only(console, department_policy),
                  methods=["POST"]),
            Route(PREFIX + "/plans", staff_only(console, plans), methods=["GET"]),
            Route(PREFIX + "/plans", staff_only(console, plan_change), methods=["POST"])]

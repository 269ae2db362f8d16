"""Account search, the account page (every door with its reason, rule and lock; the changes
the role may make; lifecycle buttons; live sessions with a kick), and its actions. Every
action is a directory function acting as the signed-in staff member."""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailgate.directory import accounts, authority, cases, doors, listing
from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError
from mailgate.directory.views import AccountReport
from mailgate.durations import parse_duration
from mailgate.events import live
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
from mailgate.policy.catalogue import normalise_protocol

PAGE_SIZE = 50
DURATIONS = (("", "until changed"), ("1h", "1 hour"), ("1d", "1 day"), ("7d", "7 days"),
             ("30d", "30 days"))
DONE = {
    "door": "The door was changed; live sessions it closes end within a second.",
    "compromised": "The account is marked compromised: every door is shut and its sessions "
                   "ended.",
    "restored": "The account is restored with a new password; its doors are back to its "
                "plan's defaults.",
    "deactivated": "The account is being deactivated.",
    "activated": "The account is active.",
    "kicked": "The session was ended.",
    "case": "The case was opened.",
}


def account_url(address: str, done: str = "") -> str:
    return f"{PREFIX}/accounts/{quote(address)}" + (f"?done={done}" if done else "")


def _door_rows(console: Console, actor: Actor, shown: AccountReport) -> list[dict[str, object]]:
    """Each door, its decision, and what this actor may do to it (or why not)."""
    denied = frozenset(p for p, d in shown.decisions.items() if d.reason == "department_policy")
    rows = []
    for protocol, decision in shown.decisions.items():
        want = not decision.allowed
        refusal = refused_by(authority.require_department_allows, shown.department, denied,
                             protocol, want) or refused_by(
            authority.require_protocol_change, actor, shown.address, protocol, want,
            console.svc.restricted)
        rows.append({"protocol": protocol, "decision": decision, "want": want,
                     "by_state": decision.source == "state", "refusal": refusal,
                     "case_helps": refusal is not None and decision.reason != "department_policy"
                     and refused_by(authority.require_case_open, actor, 0, "") is None})
    return rows


def _lifecycle(actor: Actor, state: str) -> dict[str, bool]:
    """The lifecycle buttons the actor's role may use on an account in `state`."""
    staff = refused_by(authority.require_staff, actor, "") is None
    admin = refused_by(authority.require_admin, actor, "") is None
    return {"compromise": staff and state not in ("compromised", "deactivated"),
            "restore": staff and state == "compromised",
            "deactivate": admin and state in ("active", "pending", "deactivating"),
            "activate": admin and state in ("pending", "deactivating")}


def routes(console: Console) -> list[Route]:
    svc = console.svc

    async def search(request: Request, actor: Actor) -> Response:
        query = request.query_params.get("q", "")[:320]
        after = request.query_params.get("after", "")[:320]
        try:
            found = await asyncio.to_thread(listing.search_accounts, svc, actor, query, after,
                                            PAGE_SIZE)
        except DirectoryError as error:
            refusal = refusal_of(error)
            return render(request, actor, "accounts.html", refusal.status, section="accounts",
                          q=query, rows=[], more=None, refusal=refusal.message)
        more = "?" + urlencode({"q": query, "after": found.next_after}) \
            if found.next_after else None
        return render(request, actor, "accounts.html", section="accounts", q=query,
                      rows=found.rows, more=more, first=not after, refusal="")

    async def show(request: Request, actor: Actor, refusal: Refusal | None = None,
                   address: str | None = None) -> Response:
        address = address or request.path_params["address"]
        try:
            shown = await asyncio.to_thread(listing.show_account, svc, actor, address)
            sessions = await asyncio.to_thread(live.list_sessions, svc, actor, shown.address)
            its_cases = await asyncio.to_thread(cases.list_cases, svc, actor, shown.address)
        except DirectoryError as error:
            problem = refusal_of(error)
            return render(request, actor, "message.html", problem.status, section="accounts",
                          title="Account", detail=problem.message)
        done = DONE.get(request.query_params.get("done", ""), "")
        return render(request, actor, "account.html", refusal.status if refusal else 200,
                      section="accounts", shown=shown, doors=_door_rows(console, actor, shown),
                      lifecycle=_lifecycle(actor, shown.state), sessions=sessions,
                      cases=its_cases, durations=DURATIONS, done=done,
                      refusal=refusal.message if refusal else "",
                      may_kick=refused_by(authority.require_staff, actor, "") is None)

    async def acted(request: Request, actor: Actor, refusal: Refusal | None,
                    done: str) -> Response:
        address = request.path_params["address"]
        if refusal is not None:
            return await show(request, actor, refusal, address)
        return RedirectResponse(account_url(address.strip().lower(), done), status_code=303)

    async def set_door(request: Request, actor: Actor) -> Response:
        form = await console.form(request)
        if isinstance(form, Response):
            return form
        value, duration = field(form, "value"), field(form, "for")
        try:
            protocol = normalise_protocol(request.path_params["protocol"])
            seconds = parse_duration(duration) if duration else None
        except ValueError as error:
            return await acted(request, actor, refusal_of(error), "")
        if value not in ("on", "off"):
            return await acted(request, actor, Refusal("say on or off", 400), "")
        refusal = await attempt(doors.set_protocol, svc, actor, request.path_params["address"],
                                protocol, value == "on", field(form, "reason"), seconds)
        return await acted(request, actor, refusal, "door")

    async def compromise(request: Request, actor: Actor) -> Response:
        form = await console.form(request)
        if isinstance(form, Response):
            return form
        reason = field(form, "reason")
        refusal = Refusal("say why: a reason is kept in the audit log", 400) \
            if not reason.strip() else await attempt(
                accounts.compromise, svc, actor, request.path_params["address"], reason)
        return await acted(request, actor, refusal, "compromised")

    async def restore(request: Request, actor: Actor) -> Response:
        form = await console.form(request)
        if isinstance(form, Response):
            return form
        refusal = await attempt(accounts.restore, svc, actor, request.path_params["address"],
                                field(form, "password"), field(form, "note"))
        return await acted(request, actor, refusal, "restored")

    async def deactivate(request: Request, actor: Actor) -> Response:
        form = await console.form(request)
        if isinstance(form, Response):
            return form
        refusal = await attempt(accounts.deactivate, svc, actor,
                                request.path_params["address"], field(form, "now") == "yes")
        return await acted(request, actor, refusal, "deactivated")

    async def activate(request: Request, actor: Actor) -> Response:
        form = await console.form(request)
        if isinstance(form, Response):
            return form
        refusal = await attempt(accounts.activate, svc, actor, request.path_params["address"])
        return await acted(request, actor, refusal, "activated")

    async def kick(request: Request, actor: Actor) -> Response:
        form = await console.form(request)
        if isinstance(form, Response):
            return form
        try:
            await live.end_session(svc, actor, console.registry,
                                   request.path_params["session"][:64], field(form, "reason"))
        except DirectoryError as error:
            return await acted(request, actor, refusal_of(error), "")
        return await acted(request, actor, None, "kicked")

    async def open_case(request: Request, actor: Actor) -> Response:
        form = await console.form(request)
        if isinstance(form, Response):
            return form
        refusal = await attempt(cases.open_case, svc, actor, request.path_params["address"],
                                field(form, "protocol"), field(form, "want") == "on",
                                field(form, "note"))
        return await acted(request, actor, refusal, "case")

    one = PREFIX + "/accounts/{address}"
    posts = {"/doors/{protocol}": set_door, "/compromise": compromise, "/restore": restore,
             "/deactivate": deactivate, "/activate": activate,
             "/sessions/{session}/end": kick, "/cases": open_case}
    return [Route(PREFIX + "/accounts", staff_only(console, search), methods=["GET"]),
            Route(one, staff_only(console, show), methods=["GET"]),
            *(Route(one + path, staff_only(console, page), methods=["POST"])
              for path, page in posts.items())]


"""The `web` door on every request of the signed-in pages (SPEC §5, column HTTP).

`WebDoor.enter(request)` answers the account signed in on this browser when its `web` door
is open, else the response to send instead: to the sign-in page (and back) when nobody is
signed in, or — the door closed while the user was signed in — 403 with the refusal: an HTML
page giving the reason's sentence (`protocols/refusals.py`), who decided it and the next
step, or `application/problem+json` for a caller that asks for JSON. A refusal also ends the
browser's session. The decision is `policy.decide` on the account's `policy_view`, as at
every door, for a password sign-in from the client's address. A request from the webmail's
htmx that may not enter is answered with `HX-Redirect` to itself: the browser loads that page
as a whole and meets the door (and its sign-in page or refusal) as a page of its own.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mailgate.directory.views import policy_view
from mailgate.http.pages import render, styled_headers
from mailgate.http.signin import sign_in_redirect
from mailgate.http.websession import Claims, WebAccount, WebSessions
from mailgate.policy.decision import Decision, decide
from mailgate.protocols.refusals import Refusal, http_problem
from mailgate.service import Service

PROTOCOL = "web"

#: Decision.source -> who closed the door, in words
DECIDED_BY = {
    "state": "the state of your account",
    "department": "your department's policy",
    "case": "a help-desk case",
    "account": "the mail team, for your account",
    "plan": "your plan's defaults",
    "method": "the sign-in methods allowed for your account",
    "network": "the networks webmail may be used from",
    "credential": "a change of your credentials",
    "staff": "a member of staff",
}


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


class WebDoor:
    def __init__(self, svc: Service, sessions: WebSessions) -> None:
        self._svc = svc
        self.sessions = sessions

    async def enter(self, request: Request) -> WebAccount | Response:
        """The signed-in account whose `web` door is open, or the response instead."""
        claims = self.sessions.claims(request)
        if claims is None:
            return load_afresh(request) if from_htmx(request) else sign_in_redirect(request)
        peer = request.client.host if request.client else ""
        entered = await asyncio.to_thread(self.decide, claims, peer)
        if entered is None:
            return load_afresh(request) if from_htmx(request) else sign_in_redirect(request)
        account, decision = entered
        if decision.allowed:
            return account
        if from_htmx(request):  # the reload meets the door again, and ends the session then
            return load_afresh(request)
        response = refused(request, decision)
        self.sessions.end(response)
        return response

    def decide(self, claims: Claims, peer: str) -> tuple[WebAccount, Decision] | None:
        """The complete session's account and the door's decision for it now, on one
        connection in one thread (None: no complete session, or the account is gone)."""
        now = self._svc.clock()
        with self._svc.reader.connect() as conn:
            found = self.sessions.resolve(conn, claims)
            if found is None or not found[1].complete:
                return None
            row, session = found
            view = policy_view(conn, row, now)
        return session.account, decide(view, PROTOCOL, now, method="password", peer=peer)


def from_htmx(request: Request) -> bool:
    """A page the webmail's htmx asked for, to swap into the one on screen."""
    return request.headers.get("hx-request") == "true"


def load_afresh(request: Request) -> Response:
    """Tell htmx to load the page asked for as a whole new page, so that the sign-in page or
    the refusal arrives as a page of its own (with its address and style), not inside the
    webmail's frame."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Response(status_code=204, headers={"HX-Redirect": here, "Cache-Control": "no-store"})


def refused(request: Request, decision: Decision) -> Response:
    """403: the refusal as problem+json or as a page."""
    status, body = http_problem(Refusal("door", decision))
    if wants_json(request):
        return JSONResponse(body, status_code=status, media_type="application/problem+json",
                            headers={"Cache-Control": "no-store"})
    return render(request, "mail/refused.html", status, styled_headers(), title=body["title"],
                  detail=body["detail"], reason=decision.reason,
                  decided_by=DECIDED_BY.get(decision.source, decision.source),
                  locked=decision.locked, pending=decision.reason == "services_not_activated")

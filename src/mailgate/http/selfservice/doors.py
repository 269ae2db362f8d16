"""`/account`: every door of the signed-in account with its effective state, the sentence
saying why, the rule that decided and any lock — `listing.show_account`, the same report as
`mailgate account show` — and, beside each door that can change, a request form."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailgate.directory import cases, listing
from mailgate.http.selfservice.common import Pages
from mailgate.http.websession import WebAccount
from mailgate.policy.catalogue import DISPLAY, SERVED

#: which rule decided, as the page says it
RULES = {"state": "the account's state", "department": "your department's policy",
         "case": "an approved request", "account": "a setting by the help desk or mail team",
         "plan": "your plan's default", "method": "the sign-in methods allowed",
         "network": "the networks allowed"}
PENDING = ("open", "escalated")


def routes(pages: Pages) -> list[Route]:
    async def show(request: Request, web: WebAccount) -> Response:
        actor = pages.actor(web)
        report = await pages.call(listing.show_account, pages.svc, actor, web.address)
        mine = await pages.call(cases.list_cases, pages.svc, actor)
        waiting = {c.protocol: c for c in mine if c.status in PENDING}
        doors = [{"protocol": p, "name": DISPLAY[p], "decision": d, "served": p in SERVED,
                  "rule": RULES.get(d.source, d.source), "waiting": waiting.get(p)}
                 for p, d in report.decisions.items()]
        return pages.page(request, "doors.html", web, report=report, doors=doors)

    return [Route("/account", pages.signed_in(show), methods=["GET"])]

"""The staff console under `/console`: HTML pages (no script; charts are inline SVG) for the
help desk, the mail team and department administrators, signed in through `/signin`. Each
page shows only what the signed-in role may do, and each action calls the same directory
function as the CLI and the admin API, acting as that staff member (so it is audited with
their address, role and reason). Forms carry the CSRF token; all outside text is escaped.

accounts.py (search, account page, door and lifecycle actions, sessions), cases.py (the
queue), policy.py (departments, plans), audit.py, usage.py (+ charts.py), staff.py (who is
signed in, forms, refusals), rendering.py (templates, navigation, headers)."""

from __future__ import annotations

from importlib.resources import files

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailgate.events.sessions import SessionRegistry
from mailgate.http.console import accounts, audit, cases, policy, usage
from mailgate.http.console.rendering import PREFIX, navigation
from mailgate.http.console.staff import Console, staff_only
from mailgate.http.websession import WebSessions
from mailgate.service import Service

_STYLESHEET = files("mailgate.http").joinpath("templates/console/console.css").read_bytes()


def routes(svc: Service, sessions: WebSessions, registry: SessionRegistry) -> list[Route]:
    console = Console(svc, sessions, registry)

    async def home(_request: Request, actor) -> Response:  # type: ignore[no-untyped-def]
        return RedirectResponse(f"{PREFIX}/{navigation(actor)[0][0]}", status_code=303)

    async def stylesheet(_request: Request) -> Response:
        return Response(_STYLESHEET, media_type="text/css",
                        headers={"Cache-Control": "public, max-age=3600",
                                 "X-Content-Type-Options": "nosniff"})

    found: list[Route] = [Route(PREFIX, staff_only(console, home), methods=["GET"]),
                          Route(PREFIX + "/console.css", stylesheet, methods=["GET"])]
    for part in (accounts, cases, policy, audit, usage):
        found += part.routes(console)
    return found

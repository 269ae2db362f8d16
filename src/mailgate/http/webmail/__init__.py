"""The webmail (`/mail`): folders, message lists, reading, writing and sending, behind the
`web` door (`http/webdoor.py`) on every request. Pages work without JavaScript; every form
carries the CSRF token; every page has a strict Content-Security-Policy and only this
server's own style sheet (`webmail.css`, at `/mail/static/webmail.css`).

listing.py (folder page), reading.py (a message, its attachments), actions.py (delete, move,
flags), compose.py + outgoing.py (write, send through the SMTP door's pipeline, drafts),
message_view.py (MIME to what is shown: nh3-sanitised HTML), base.py (what pages share).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailgate.http.webdoor import WebDoor
from mailgate.http.webmail import actions, compose, listing, reading
from mailgate.http.webmail.base import Webmail
from mailgate.http.websession import WebSessions
from mailgate.service import Service
from mailgate.store.commits import GroupCommit

STYLE = files(__package__).joinpath("webmail.css").read_bytes()


async def _style(_request: Request) -> Response:
    return Response(STYLE, media_type="text/css", headers={
        "Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


def routes(svc: Service, sessions: WebSessions, commits: GroupCommit,
           queued: Callable[[], None]) -> list[Route]:
    """The webmail's routes; it sends through `commits` (the server's delivery writer), and
    `queued` wakes the outbound queue after a send."""
    mail = Webmail(svc, WebDoor(svc, sessions), commits, queued)
    return [Route("/mail/static/webmail.css", _style, methods=["GET"]),
            *listing.routes(mail), *reading.routes(mail), *actions.routes(mail),
            *compose.routes(mail)]


def body_limits(svc: Service) -> dict[str, int]:
    """Paths whose request bodies may be larger than the listener's cap: the compose form,
    which carries attachments."""
    return {compose.UPLOAD_PATH: compose.upload_limit(svc)}

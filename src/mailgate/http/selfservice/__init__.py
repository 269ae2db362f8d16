"""Self-service pages under `/account`: a signed-in user's doors and why (`doors.py`),
requests to change them (`requests.py`, cases opened as the user), app passwords
(`app_passwords.py`), recent sign-ins (`signins.py`), live sessions and sign out everywhere
(`my_sessions.py`), Recoverable Items (`recover.py`) and
setting up a device (`devices.py`, with the Apple profile download). They need an `active`
account signed in on the web (`WebSessions.signed_in`) but not an open `web` door: they are
where a user sees why a door is shut and asks for it. Each page acts as the account itself
(`Actor.itself`, no staff role) through the same service functions as the CLI."""

from __future__ import annotations

from starlette.routing import Route

from mailgate.http.selfservice import (
    app_passwords,
    devices,
    doors,
    my_sessions,
    recover,
    requests,
    signins,
)
from mailgate.http.selfservice.common import Pages, stylesheet
from mailgate.http.websession import WebSessions
from mailgate.service import Service


def routes(svc: Service, sessions: WebSessions) -> list[Route]:
    pages = Pages(svc, sessions)
    found = [Route("/account/style.css", stylesheet, methods=["GET"])]
    for part in (doors, requests, app_passwords, signins, my_sessions, recover, devices):
        found += part.routes(pages)
    return found

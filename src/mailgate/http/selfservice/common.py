"""What every self-service page shares: the signed-in account (or the way to the sign-in
page), the account acting as itself, CSRF-checked forms, service calls off the event loop,
and pages rendered with the account layout and its stylesheet."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any, TypeVar

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError, NotAllowed, NotFound
from mailgate.http import csrf
from mailgate.http.pages import HEADERS, error_page, render
from mailgate.http.signin import sign_in_redirect
from mailgate.http.websession import WebAccount, WebSessions
from mailgate.service import Service

T = TypeVar("T")

#: the pages' own stylesheet, and nothing else, may style them
CSP = HEADERS["Content-Security-Policy"] + "; style-src 'self'; form-action 'self'"
_CSS = resources.files("mailgate.http").joinpath("templates/account/style.css").read_bytes()

#: the sections of the navigation: (path, label)
SECTIONS = (("/account", "My doors"), ("/account/requests", "Requests"),
            ("/account/app-passwords", "App passwords"), ("/account/sign-ins", "Sign-ins"),
            ("/account/sessions", "Sessions"),
            ("/account/recover", "Recover mail"), ("/account/devices", "Set up a device"),
            ("/account/mfa", "Security"))

Handler = Callable[[Request, WebAccount], Awaitable[Response]]


async def stylesheet(_request: Request) -> Response:
    return Response(_CSS, media_type="text/css",
                    headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})


def utc(ts: float | None, none: str = "-") -> str:
    """A moment for people, in UTC to the minute (as the CLI prints it)."""
    if ts is None:
        return none
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def status_of(error: DirectoryError) -> int:
    if isinstance(error, NotAllowed):
        return 403
    if isinstance(error, NotFound):
        return 404
    return 400


@dataclass
class Pages:
    svc: Service
    sessions: WebSessions

    def signed_in(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """The handler, for a signed-in active account; else to the sign-in page and back."""
        async def endpoint(request: Request) -> Response:
            web = await self.sessions.signed_in(request)
            if web is None:
                return sign_in_redirect(request)
            return await handler(request, web)
        return endpoint

    @staticmethod
    def actor(web: WebAccount) -> Actor:
        return Actor.itself(web.address, web.account_id)

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """A service function in a worker thread (they are synchronous database work)."""
        return await asyncio.to_thread(function, *args)

    @staticmethod
    async def form(request: Request, max_fields: int = 64) -> FormData | Response:
        """The posted form, or the 403 page when its CSRF token is missing or wrong."""
        form = await request.form(max_files=0, max_fields=max_fields)
        if not csrf.valid(request, form):
            return error_page(request, 403, "Forbidden", "The form expired or did not come "
                              "from this site. Go back, reload the page and try again.")
        return form

    @staticmethod
    def page(request: Request, template: str, web: WebAccount, status: int = 200,
             **context: Any) -> HTMLResponse:
        response = render(request, f"account/{template}", status, me=web,
                          sections=SECTIONS, here=request.url.path, utc=utc, **context)
        response.headers["Content-Security-Policy"] = CSP
        return response

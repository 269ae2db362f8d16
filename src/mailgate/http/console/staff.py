"""Who is using the console: the web session's account with its roles, as an `Actor` (built
the way the CLI's `--as` builds one), and the answer to everyone else — the sign-in page
for no session or a forged one, 403 for an account with no staff role."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError, NotAllowed, NotFound
from mailgate.directory.views import load_actor
from mailgate.events.sessions import SessionRegistry
from mailgate.http import csrf
from mailgate.http.console.rendering import plain_error
from mailgate.http.signin import sign_in_redirect
from mailgate.http.websession import WebSessions
from mailgate.service import Service

MAX_FIELDS = 16
NOT_STAFF = ("The staff console is for the help desk, the mail team and department "
             "administrators, and this account has none of those roles.")


@dataclass(frozen=True)
class Console:
    """What every console page needs."""

    svc: Service
    sessions: WebSessions
    registry: SessionRegistry

    async def actor(self, request: Request) -> Actor | Response:
        """The signed-in staff member, or the response to send instead."""
        account = await self.sessions.signed_in(request)
        if account is None:
            return sign_in_redirect(request)
        try:
            actor = await asyncio.to_thread(self._load, account.address)
        except DirectoryError:
            return sign_in_redirect(request)
        if not (actor.is_staff or actor.has("dept-admin")):
            return plain_error(request, 403, "Not for your role", NOT_STAFF)
        return actor

    def _load(self, address: str) -> Actor:
        with self.svc.reader.connect() as conn:
            return load_actor(conn, address)

    async def form(self, request: Request) -> FormData | Response:
        """A posted form whose CSRF field matches its cookie, or the 403 answer."""
        form = await request.form(max_files=0, max_fields=MAX_FIELDS)
        if not csrf.valid(request, form):
            return plain_error(request, 403, "Forbidden", "The form expired or did not come "
                               "from this site. Go back, reload the page and try again.")
        return form


@dataclass(frozen=True)
class Refusal:
    """Why an action was refused or invalid (nothing was changed), and its HTTP status."""

    message: str
    status: int


def refusal_of(error: Exception) -> Refusal:
    if isinstance(error, NotAllowed):
        return Refusal(str(error), 403)
    if isinstance(error, NotFound):
        return Refusal(str(error), 404)
    return Refusal(str(error), 400)


async def attempt(action: Callable[..., object], *args: object) -> Refusal | None:
    """Run a directory function (in a worker thread): None when done, else its refusal —
    the same sentence the CLI prints, naming who may do it and how."""
    try:
        await asyncio.to_thread(action, *args)
    except (DirectoryError, ValueError) as error:
        return refusal_of(error)
    return None


def refused_by(check: Callable[..., None], *args: object) -> str | None:
    """The sentence an authority check would refuse with, or None when it allows: how the
    pages know what to show without a rule of their own."""
    try:
        check(*args)
    except NotAllowed as error:
        return str(error)
    return None


def field(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


Page = Callable[[Request, Actor], Awaitable[Response]]


def staff_only(console: Console, page: Page) -> Callable[[Request], Awaitable[Response]]:
    """A console endpoint: only for staff (else sign-in or 403)."""
    async def endpoint(request: Request) -> Response:
        actor = await console.actor(request)
        if isinstance(actor, Response):
            return actor
        return await page(request, actor)
    return endpoint

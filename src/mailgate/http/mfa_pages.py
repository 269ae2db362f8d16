"""The account's own MFA pages, `/account/mfa`: what is enrolled (TOTP, security keys,
recovery codes left), add an authenticator app (QR code, confirmed by its first code), add a
security key (`navigator.credentials.create()` from `/static/webauthn.js`, our origin only),
remove a factor, make new recovery codes. A complete session only (`second_factor.
complete_session`); removing a factor or making new codes also needs a second factor proved
within `websession.FRESH_SECONDS`, else the page first asks for one (`second_factor.again`).
Adding a factor needs one too when the account has one already (a stolen session must not
add its own). Every rule is `auth.mfa`'s (`directory/*`): these views only call it and show
the answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from mailgate.auth.mfa import MultiFactor
from mailgate.directory.errors import DirectoryError
from mailgate.http import csrf
from mailgate.http.oauth.provider import Provider
from mailgate.http.pages import error_page, render
from mailgate.http.second_factor import (
    FORBIDDEN,
    again,
    complete_session,
    to_step,
    totp_context,
)
from mailgate.http.websession import WebSession

HOME = "/account/mfa"
TOTP = HOME + "/totp"
KEY = HOME + "/security-key"
KEY_OPTIONS = KEY + "/options"
REMOVE = HOME + "/remove"
CODES = HOME + "/recovery-codes"
#: the notes `HOME?done=...` shows after a change (never text from the request)
NOTES = {"totp": "Your authenticator app is set up.",
         "key": "Your security key is registered.",
         "removed": "The factor was removed."}


def when(at: float | None) -> str:
    if at is None:
        return "never"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def routes(provider: Provider) -> list[Route]:
    sessions = provider.sessions
    mfa = MultiFactor(provider.svc)

    async def home(request: Request, status: int = 200, error: str = "") -> Response:
        session = await complete_session(sessions, request)
        if isinstance(session, Response):
            return session
        state = await mfa.status(session.account.address)
        keys = [{"id": a.id, "label": a.label or "Security key", "added": when(a.created_at),
                 "used": when(a.last_used_at)} for a in state.enrolment.authenticators]
        return render(request, "account/mfa.html", status, address=session.account.address,
                      required_by=state.required_by,
                      totp_since=when(state.enrolment.totp_confirmed_at)
                      if state.enrolment.totp_confirmed_at is not None else None,
                      keys=keys, codes_left=state.enrolment.recovery_codes_left,
                      has_factor=bool(state.enrolment.methods), error=error,
                      note=NOTES.get(request.query_params.get("done", ""), ""))

    async def posted(request: Request) -> tuple[FormData, WebSession] | Response:
        form = await request.form(max_files=0, max_fields=8)
        if not csrf.valid(request, form):
            return error_page(request, 403, "Forbidden", FORBIDDEN)
        session = await complete_session(sessions, request)
        if isinstance(session, Response):
            return to_step(HOME)
        return form, session

    def stale(session: WebSession, path: str) -> Response | None:
        """Where a session goes first when its second factor is not fresh: every change of
        factors needs one (adding one too, or a stolen session could add its own)."""
        if session.fresh(provider.svc.clock()):
            return None
        return RedirectResponse(again(path), status_code=303)

    async def totp_page(request: Request, status: int = 200, error: str = "") -> Response:
        session = await complete_session(sessions, request)
        if isinstance(session, Response):
            return session
        if "totp" in session.mfa.methods:
            return RedirectResponse(HOME, status_code=303)
        if (first := stale(session, TOTP)) is not None:
            return first
        try:
            enrolment = await mfa.totp_enrolment(session.account.address)
        except DirectoryError as exc:
            return error_page(request, 409, "Cannot set up", str(exc))
        return render(request, "enrol_totp.html", status, address=session.account.address,
                      required_by=(), action=TOTP, next=HOME, error=error, at_sign_in=False,
                      **totp_context(enrolment))

    async def totp_confirm(request: Request) -> Response:
        found = await posted(request)
        if isinstance(found, Response):
            return found
        form, session = found
        if (first := stale(session, TOTP)) is not None:
            return first
        try:
            codes = await mfa.totp_enrol_confirm(session.account.address,
                                                 str(form.get("code", "")))
        except DirectoryError as exc:
            return await totp_page(request, 400, str(exc))
        return _added(request, session, "totp", codes)

    def _added(request: Request, session: WebSession, factor: str, codes: list[str]
               ) -> Response:
        """The new factor is proved (it just answered): the session keeps being complete."""
        response: Response = render(request, "account/recovery_codes.html", codes=codes,
                                    continue_to=HOME, address=session.account.address) \
            if codes else RedirectResponse(HOME + "?" + urlencode(
                {"done": "totp" if factor == "totp" else "key"}), status_code=303)
        sessions.prove(request, response, session, factor)
        return response

    async def key_page(request: Request, status: int = 200, error: str = "") -> Response:
        session = await complete_session(sessions, request)
        if isinstance(session, Response):
            return session
        if (first := stale(session, KEY)) is not None:
            return first
        return render(request, "account/security_key.html", status,
                      address=session.account.address, options_url=KEY_OPTIONS, error=error)

    async def key_options(request: Request) -> Response:
        found = await posted(request)
        if isinstance(found, Response):
            return JSONResponse({"error": "sign in again"}, status_code=403)
        _form, session = found
        if stale(session, KEY) is not None:
            return JSONResponse({"error": "prove a second factor again"}, status_code=403)
        options = await mfa.webauthn_register_begin(session.account.address)
        return Response(options, media_type="application/json",
                        headers={"Cache-Control": "no-store"})

    async def key_finish(request: Request) -> Response:
        found = await posted(request)
        if isinstance(found, Response):
            return found
        form, session = found
        if (first := stale(session, KEY)) is not None:
            return first
        try:
            codes = await mfa.webauthn_register_finish(
                session.account.address, str(form.get("answer", "")),
                str(form.get("label", "")).strip())
        except DirectoryError as exc:
            return await key_page(request, 400, str(exc))
        return _added(request, session, "webauthn", codes)

    async def remove(request: Request) -> Response:
        found = await posted(request)
        if isinstance(found, Response):
            return found
        form, session = found
        if (first := stale(session, HOME)) is not None:
            return first
        try:
            await mfa.remove_factor(session.account.address, str(form.get("factor", "")))
        except DirectoryError as exc:
            return await home(request, 409, str(exc))
        return RedirectResponse(HOME + "?done=removed", status_code=303)

    async def new_codes(request: Request) -> Response:
        found = await posted(request)
        if isinstance(found, Response):
            return found
        _form, session = found
        if (first := stale(session, HOME)) is not None:
            return first
        try:
            codes = await mfa.new_recovery_codes(session.account.address)
        except DirectoryError as exc:
            return await home(request, 409, str(exc))
        return render(request, "account/recovery_codes.html", codes=codes, continue_to=HOME,
                      address=session.account.address, replaced=True)

    async def show_home(request: Request) -> Response:
        return await home(request)

    async def show_totp(request: Request) -> Response:
        return await totp_page(request)

    async def show_key(request: Request) -> Response:
        return await key_page(request)

    return [Route(HOME, show_home, methods=["GET"]),
            Route(TOTP, show_totp, methods=["GET"]), Route(TOTP, totp_confirm, methods=["POST"]),
            Route(KEY, show_key, methods=["GET"]), Route(KEY, key_finish, methods=["POST"]),
            Route(KEY_OPTIONS, key_options, methods=["POST"]),
            Route(REMOVE, remove, methods=["POST"]), Route(CODES, new_codes, methods=["POST"])]

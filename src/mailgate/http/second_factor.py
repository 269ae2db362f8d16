"""The second step of the web sign-in, `/signin/second-factor`: after a right password, an
account that needs a second factor (`websession.WebSession.complete`) proves one here — a
TOTP code or a recovery code in a plain form (no JavaScript), or a security key through
`navigator.credentials.get()` (`/static/webauthn.js`) when the browser has WebAuthn. Only
then does the session open the pages behind it. An account that must use MFA and has nothing
enrolled enrols a TOTP authenticator here instead (QR code and key to type in, confirmed by
its first code) and sees its recovery codes once.

The same page, with `confirm=1`, asks a complete session for a fresh second factor before
`/account/mfa` changes the account's factors or makes new recovery codes. Codes are checked by
`auth.second_step` (throttled, recorded, single use); `next` is checked like the sign-in's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from mailgate.auth.mfa import MultiFactor
from mailgate.auth.second_step import SecondStep
from mailgate.directory.errors import DirectoryError
from mailgate.directory.mfa_state import Outcome, Verdict
from mailgate.directory.totp_factor import TotpEnrolment
from mailgate.http import csrf
from mailgate.http.oauth.provider import Provider
from mailgate.http.pages import error_page, render
from mailgate.http.signin import SECOND_STEP, safe_next
from mailgate.http.websession import WebSession, WebSessions

ENROL = "/signin/enrol"
WEBAUTHN_OPTIONS = SECOND_STEP + "/webauthn"
FORBIDDEN = "The form expired or did not come from this site. Go back, reload the page and " \
            "try again."


def again(path: str) -> str:
    """The step asking a complete session for a fresh second factor, then back to `path`."""
    return SECOND_STEP + "?" + urlencode({"confirm": "1", "next": path})


def to_step(path: str) -> RedirectResponse:
    return RedirectResponse(SECOND_STEP + "?" + urlencode({"next": path}), status_code=303)


async def complete_session(sessions: WebSessions, request: Request
                           ) -> WebSession | RedirectResponse:
    """The complete session of this browser, else where it goes first: the sign-in, or the
    second step of a half one, and back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    session = await sessions.current(request)
    if session is None:
        return RedirectResponse("/signin?" + urlencode({"next": here}), status_code=303)
    if not session.complete:
        return to_step(here)
    return session


def refusal(verdict: Verdict) -> str:
    """What the page says when a second factor was not accepted."""
    if verdict.outcome is Outcome.REUSED:
        return "That code was used already. Wait for the next code in the app and type it."
    if verdict.outcome is Outcome.THROTTLED and verdict.retry_at is not None:
        at = datetime.fromtimestamp(verdict.retry_at, UTC).strftime("%H:%M:%S UTC")
        return f"Too many wrong codes. Try a code again after {at}, or use a recovery code " \
               "or a security key."
    return "That is not right. Check the code and try again."


def totp_context(enrolment: TotpEnrolment) -> dict[str, object]:
    """What the TOTP set-up part of a page shows: the QR code (segno's SVG, made here from
    our own URI, so inserted as markup) and the key in groups of four to type in."""
    key = " ".join(enrolment.secret[i:i + 4] for i in range(0, len(enrolment.secret), 4))
    return {"qr_svg": Markup(enrolment.qr_svg), "secret": key}


def routes(provider: Provider) -> list[Route]:
    sessions = provider.sessions
    mfa = MultiFactor(provider.svc)
    step = SecondStep(provider.gate, mfa)

    def factor_page(request: Request, session: WebSession, following: str, confirm: bool,
                    status: int = 200, error: str = "") -> Response:
        return render(request, "second_factor.html", status, address=session.account.address,
                      methods=session.mfa.methods, codes_left=session.mfa.recovery_codes_left,
                      next=following, confirm=confirm, error=error,
                      options_url=WEBAUTHN_OPTIONS)

    async def enrol_page(request: Request, session: WebSession, following: str,
                         status: int = 200, error: str = "") -> Response:
        try:
            enrolment = await mfa.totp_enrolment(session.account.address)
        except DirectoryError as exc:
            return error_page(request, 409, "Cannot set up", str(exc))
        return render(request, "enrol_totp.html", status, address=session.account.address,
                      required_by=session.mfa.required_by, action=ENROL, next=following,
                      error=error, at_sign_in=True, **totp_context(enrolment))

    async def show(request: Request) -> Response:
        following = safe_next(request.query_params.get("next", ""))
        confirm = request.query_params.get("confirm") == "1"
        session = await sessions.current(request)
        if session is None:
            return RedirectResponse("/signin?" + urlencode({"next": following}),
                                    status_code=303)
        if session.must_enrol:
            return await enrol_page(request, session, following)
        if session.complete and not (confirm and session.mfa.methods):
            return RedirectResponse(following, status_code=303)
        return factor_page(request, session, following, confirm)

    async def checked_form(request: Request) -> tuple[FormData, WebSession] | Response:
        form = await request.form(max_files=0, max_fields=8)
        if not csrf.valid(request, form):
            return error_page(request, 403, "Forbidden", FORBIDDEN)
        session = await sessions.current(request)
        if session is None:
            following = safe_next(str(form.get("next", "")))
            return RedirectResponse("/signin?" + urlencode({"next": following}),
                                    status_code=303)
        return form, session

    async def submit(request: Request) -> Response:
        found = await checked_form(request)
        if isinstance(found, Response):
            return found
        form, session = found
        following = safe_next(str(form.get("next", "")))
        if session.must_enrol:
            return to_step(following)
        factor, answer = str(form.get("factor", "")), str(form.get("answer", ""))
        peer = request.client.host if request.client else ""
        verdict = await step.check(session.account.account_id, session.account.address, factor,
                                   answer, peer, provider.svc.clock())
        if not verdict.accepted:
            status = 429 if verdict.outcome is Outcome.THROTTLED else 401
            return factor_page(request, session, following, form.get("confirm") == "1",
                               status, refusal(verdict))
        response = RedirectResponse(following, status_code=303)
        sessions.prove(request, response, session, factor)
        return response

    async def webauthn_options(request: Request) -> Response:
        found = await checked_form(request)
        if isinstance(found, Response):
            return JSONResponse({"error": "sign in again"}, status_code=403)
        _form, session = found
        options = await mfa.webauthn_begin(session.account.address)
        if options is None:
            return JSONResponse({"error": "no security key is registered"}, status_code=404)
        return Response(options, media_type="application/json",
                        headers={"Cache-Control": "no-store"})

    async def enrol(request: Request) -> Response:
        found = await checked_form(request)
        if isinstance(found, Response):
            return found
        form, session = found
        following = safe_next(str(form.get("next", "")))
        if not session.must_enrol:
            return to_step(following)
        try:
            codes = await mfa.totp_enrol_confirm(session.account.address,
                                                 str(form.get("code", "")))
        except DirectoryError as exc:
            return await enrol_page(request, session, following, 400, str(exc))
        response = render(request, "account/recovery_codes.html", codes=codes,
                          continue_to=following, address=session.account.address)
        sessions.prove(request, response, session, "totp")
        return response

    return [Route(SECOND_STEP, show, methods=["GET"]),
            Route(SECOND_STEP, submit, methods=["POST"]),
            Route(WEBAUTHN_OPTIONS, webauthn_options, methods=["POST"]),
            Route(ENROL, enrol, methods=["POST"])]

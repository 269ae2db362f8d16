"""The sign-in page (`/signin`) and sign-out (`/signout`): address and password through the
gate (`Gate.sign_in_page`: throttled, audited as protocol `web`, unknown accounts answered
like wrong passwords), then a web session cookie (`websession`) and the second step
(`second_factor`), which completes the session. `next` may only lead back
to a page of this server that sends people here (no open redirect)."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailgate.auth.gate import Gate, Principal, is_loopback
from mailgate.http import csrf
from mailgate.http.pages import error_page, render
from mailgate.http.websession import WebSessions
from mailgate.protocols.refusals import BAD_CREDENTIALS

#: the pages that send people to sign in (each path, and the pages under it), and so the
#: only places `next` leads to
NEXT_PATHS = ("/oauth/authorize", "/device", "/mail", "/account", "/console")
DEFAULT_NEXT = "/mail"
#: where a right password leads: the second factor when the account needs one (it passes
#: straight on to `next` when not)
SECOND_STEP = "/signin/second-factor"
MAX_FIELD = 1024


def _leads_back(path: str) -> bool:
    return any(path == known or path.startswith(known + "/") for known in NEXT_PATHS)


def safe_next(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not _leads_back(parts.path) or "\\" in value or \
            len(value) > 8192 or "/." in parts.path or "//" in parts.path:
        return DEFAULT_NEXT
    return value


def sign_in_redirect(request: Request) -> RedirectResponse:
    """To the sign-in page, and back to this very page afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/signin?" + urlencode({"next": here}), status_code=303)


def _in_clear(request: Request) -> bool:
    """Plain http from off loopback: no password is typed here (SPEC §5: redirect to
    https)."""
    return request.url.scheme != "https" and not is_loopback(
        request.client.host if request.client else "")


def routes(gate: Gate, sessions: WebSessions) -> list[Route]:
    async def show(request: Request) -> Response:
        if _in_clear(request):
            return RedirectResponse(str(request.url.replace(scheme="https", port=None)),
                                    status_code=308)
        following = safe_next(request.query_params.get("next", ""))
        session = await sessions.current(request)
        if session is not None:  # complete: on to `next`; half: to its second step first
            return RedirectResponse(following if session.complete else SECOND_STEP + "?" +
                                    urlencode({"next": following}), status_code=303)
        return render(request, "signin.html", next=following, address="", error="")

    async def submit(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=8)
        if not csrf.valid(request, form):
            return error_page(request, 403, "Forbidden", "The form expired or did not come "
                              "from this site. Go back, reload the page and try again.")
        address, password = str(form.get("address", "")), str(form.get("password", ""))
        following = safe_next(str(form.get("next", "")))
        if not address or not password or len(address) > MAX_FIELD or \
                len(password) > MAX_FIELD:
            return render(request, "signin.html", 401, next=following, address=address[:320],
                          error=BAD_CREDENTIALS)
        peer = request.client.host if request.client else ""
        result = await gate.sign_in_page(address, password, peer,
                                         tls=request.url.scheme == "https")
        if isinstance(result, Principal):
            response = RedirectResponse(SECOND_STEP + "?" + urlencode({"next": following}),
                                        status_code=303)
            sessions.start(request, response, result.account_id, result.credential_epoch or 0)
            return response
        if result.kind == "door":
            return render(request, "signin.html", 403, next=following, address=address,
                          error=result.text)
        if result.kind == "privacy":
            return RedirectResponse(str(request.url.replace(scheme="https", port=None)),
                                    status_code=303)
        return render(request, "signin.html", 401, next=following, address=address,
                      error=BAD_CREDENTIALS)

    async def sign_out(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=4)
        if not csrf.valid(request, form):
            return error_page(request, 403, "Forbidden", "The form expired or did not come "
                              "from this site.")
        response = RedirectResponse("/signin", status_code=303)
        sessions.end(response)
        return response

    return [Route("/signin", show, methods=["GET"]), Route("/signin", submit, methods=["POST"]),
            Route("/signout", sign_out, methods=["POST"])]

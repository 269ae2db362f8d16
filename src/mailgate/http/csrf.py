"""CSRF protection of every form: a random token in an HttpOnly, SameSite=Lax cookie, which
each form repeats in a hidden field (double submit). Another site can neither read the
cookie nor, under SameSite=Lax, send it with a cross-site POST; a POST whose field does not
match the cookie is refused with 403 before anything else is looked at."""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "mailgate_csrf"
FIELD = "csrf"
TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)


def _cookie_token(request: Request) -> str | None:
    token = request.cookies.get(COOKIE, "")
    return token if len(token) == TOKEN_LENGTH else None


def token_for(request: Request) -> str:
    """The token a form of this page carries (a new one when the browser has none yet)."""
    token = _cookie_token(request) or getattr(request.state, "csrf_new", None)
    if token is None:
        token = secrets.token_urlsafe(32)
        request.state.csrf_new = token
    return token


def attach(request: Request, response: Response) -> None:
    """Send the cookie along when this response's forms use a new token."""
    token = getattr(request.state, "csrf_new", None)
    if token is not None:
        response.set_cookie(COOKIE, token, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")


def valid(request: Request, form: FormData) -> bool:
    cookie, field = _cookie_token(request), form.get(FIELD)
    return cookie is not None and isinstance(field, str) and \
        hmac.compare_digest(cookie.encode(), field.encode())

"""The console's pages: Jinja2 templates under `templates/console/` (autoescaped), the
navigation the signed-in role may use, and headers that allow only our own stylesheet."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mailgate.directory.authority import Actor
from mailgate.http import csrf
from mailgate.http.pages import HEADERS as PAGE_HEADERS
from mailgate.policy.catalogue import DISPLAY, PROTOCOLS, SERVED

PREFIX = "/console"

_ENV = Environment(loader=PackageLoader("mailgate.http", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True))

HEADERS = {**PAGE_HEADERS,
           "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                                      "form-action 'self'; frame-ancestors 'none'; "
                                      "base-uri 'none'"}


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _shown(value: object) -> str:
    """A detail of an audit entry: text as is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


_ENV.filters["when"] = _when
_ENV.filters["shown"] = _shown
_ENV.globals.update(DISPLAY=DISPLAY, PROTOCOLS=PROTOCOLS, SERVED=SERVED, PREFIX=PREFIX)


def navigation(actor: Actor) -> list[tuple[str, str]]:
    """The console's sections this actor may use (nothing else is shown)."""
    links: list[tuple[str, str]] = []
    if actor.is_staff:
        links += [("accounts", "Accounts"), ("cases", "Cases")]
    if actor.is_admin or actor.has("dept-admin"):
        links.append(("departments", "Departments"))
    if actor.is_admin:
        links.append(("plans", "Plans"))
    if actor.is_staff:
        links += [("usage", "Usage"), ("audit", "Audit")]
    return links


def render(request: Request, actor: Actor, template: str, status: int = 200,
           **context: Any) -> HTMLResponse:
    html = _ENV.get_template(f"console/{template}").render(
        csrf=csrf.token_for(request), actor=actor, nav=navigation(actor),
        section=context.pop("section", ""), **context)
    response = HTMLResponse(html, status_code=status, headers=HEADERS)
    csrf.attach(request, response)
    return response


def plain_error(request: Request, status: int, title: str, detail: str) -> Response:
    """A page for someone who is not (or not yet known to be) staff: no navigation, and a
    way to sign out (and in as another account)."""
    html = _ENV.get_template("console/error.html").render(
        title=title, detail=detail, csrf=csrf.token_for(request))
    response = HTMLResponse(html, status_code=status, headers=HEADERS)
    csrf.attach(request, response)
    return response

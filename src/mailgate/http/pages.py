"""The HTML pages of the HTTP listener: Jinja2 templates, every value escaped (autoescape),
and headers that keep the pages out of frames and caches. Styles and scripts come only from
this server (`/static/`, `http/static.py`, and the webmail's own style sheet): no inline
script or style runs, and no page needs JavaScript but to use a security key (WebAuthn); the
webmail loads htmx to move between its pages without reloading them.
Styled pages (the webmail's) may load this server's own images too, nothing else."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from mailgate.http import csrf

_ENV = Environment(loader=PackageLoader("mailgate.http", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True))

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; img-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def styled_headers(img_src: str = "'self'") -> dict[str, str]:
    """HEADERS for a page with this server's style sheet, and images from `img_src`."""
    return {**HEADERS, "Content-Security-Policy":
            f"default-src 'none'; style-src 'self'; img-src {img_src}; script-src 'self'; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"}


def render(request: Request, template: str, status: int = 200,
           headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """A page; its forms carry the CSRF token (whose cookie is set here when new)."""
    html = _ENV.get_template(template).render(csrf=csrf.token_for(request), **context)
    response = HTMLResponse(html, status_code=status, headers=headers or HEADERS)
    csrf.attach(request, response)
    return response


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    return render(request, "error.html", status, title=title, detail=detail)

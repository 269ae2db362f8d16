"""The admin API application: its routers, its error answers, its limits."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from mailgate import __version__
from mailgate.events.sessions import SessionRegistry
from mailgate.http.admin import (
    accounts,
    cases,
    credentials,
    dkim,
    dns,
    evidence,
    mfa,
    oauth_clients,
    policy,
    problems,
    queue,
    sending,
    sessions,
    signin_rules,
)
from mailgate.http.admin.limits import ConcurrencyLimit
from mailgate.service import Service

PREFIX = "/api/admin/v1"
MAX_CONCURRENT = 4

DESCRIPTION = """The mailgate operator CLI over HTTP: every endpoint calls the same service
function as the command named in its summary, acting as the staff account of the API key
(`Authorization: Bearer KEY`, made by `mailgate api-key create`) with that role's limits.
Errors are `application/problem+json` (RFC 9457) whose `detail` is the CLI's refusal."""


def build_admin_api(svc: Service, registry: SessionRegistry) -> FastAPI:
    """The FastAPI application served under `PREFIX` (OpenAPI at `openapi.json`, the docs
    page at `docs`)."""
    app = FastAPI(title="mailgate admin API", version=__version__, description=DESCRIPTION,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.add_api_route("/docs", docs_page, include_in_schema=False)
    app.add_middleware(ConcurrencyLimit, limit=MAX_CONCURRENT)
    app.state.service = svc
    app.state.registry = registry
    problems.install(app)
    for module in (accounts, policy, cases, credentials, evidence, sessions, signin_rules,
                   sending, mfa, dns, oauth_clients, queue, dkim):
        app.include_router(module.router)
    return app


#: Swagger UI is vendored (`http/static/swagger-ui-bundle.js`, Apache-2.0): the page loads
#: nothing from elsewhere, and its CSP says so. Swagger UI's stylesheet draws its icons from
#: data: URLs; its "Try it out" calls the API on this origin.
DOCS_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mailgate admin API</title>
<link rel="icon" href="/static/favicon.svg">
<link rel="stylesheet" href="/static/swagger-ui.css"></head>
<body><div id="swagger-ui" data-openapi="{PREFIX}/openapi.json"></div>
<script src="/static/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script></body></html>
"""
DOCS_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def docs_page() -> HTMLResponse:
    """The docs page: Swagger UI over the OpenAPI document, every file from this server."""
    return HTMLResponse(DOCS_PAGE, headers=DOCS_HEADERS)

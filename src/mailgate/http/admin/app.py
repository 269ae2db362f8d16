"""The admin API application: its routers, its error answers, its limits."""

from __future__ import annotations

from fastapi import FastAPI

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
                  docs_url="/docs", redoc_url=None, openapi_url="/openapi.json")
    app.add_middleware(ConcurrencyLimit, limit=MAX_CONCURRENT)
    app.state.service = svc
    app.state.registry = registry
    problems.install(app)
    for module in (accounts, policy, cases, credentials, evidence, sessions, signin_rules,
                   sending, mfa, dns, oauth_clients, queue, dkim):
        app.include_router(module.router)
    return app

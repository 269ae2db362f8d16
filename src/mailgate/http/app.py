"""Starlette application: `/healthz`, `/metrics` (Prometheus), when given a provider the
OAuth server's endpoints and pages (`http/oauth`, `http/signin.py`, the second factor and
`/account/mfa`, `/static/`), the webmail (`http/webmail`, `/mail`), the self-service pages
(`http/selfservice`) and client autoconfiguration (`http/autoconfig.py`), and, with the session
registry too, the staff console (`http/console`, under `/console`); when given one the admin
API (`http/admin`, mounted at
`/api/admin/v1`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from pathlib import Path

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from mailgate import __version__
from mailgate.events.sessions import SessionRegistry
from mailgate.http import (
    autoconfig,
    console,
    mfa_pages,
    second_factor,
    selfservice,
    signin,
    static,
    webmail,
)
from mailgate.http.admin.app import PREFIX as ADMIN_PREFIX
from mailgate.http.bodylimit import BodyLimit
from mailgate.http.oauth import authorize, device, discovery, endpoints, token
from mailgate.http.oauth.provider import Provider
from mailgate.metrics import REGISTRY
from mailgate.store.commits import GroupCommit


def build_app(live_sessions: Callable[[], int], provider: Provider | None = None,
              admin_api: ASGIApp | None = None,
              registry: SessionRegistry | None = None, commits: GroupCommit | None = None,
              queued: Callable[[], None] = lambda: None) -> Starlette:
    """The webmail is served when given `commits`, the server's delivery writer it sends
    through; `queued` wakes the outbound queue (it sent mail to another domain)."""

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__,
                             "live_sessions": live_sessions()})

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    routes: list[Route | Mount] = [Route("/healthz", healthz), Route("/metrics", metrics)]
    if provider is not None:
        routes += signin.routes(provider.gate, provider.sessions)
        routes += autoconfig.routes(provider.svc, provider.gate)
        if commits is not None:
            routes += webmail.routes(provider.svc, provider.sessions, commits, queued)
        routes += selfservice.routes(provider.svc, provider.sessions)
        for part in (discovery, authorize, device, token, endpoints, second_factor, mfa_pages,
                     static):
            routes += part.routes(provider)
        if registry is not None:
            routes += console.routes(provider.svc, provider.sessions, registry)
    if admin_api is not None:
        routes.append(Mount(ADMIN_PREFIX, admin_api))
    larger = webmail.body_limits(provider.svc) if provider is not None else {}
    return Starlette(routes=routes, middleware=[Middleware(BodyLimit, larger=larger)])


#: how long a stopping server waits for its open connections to close
STOP_WAIT_SECONDS = 2.0


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside mailgate's own event loop: the server, not uvicorn, owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def,override]
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop as uvicorn does, but a connection still open `STOP_WAIT_SECONDS` after it
        was asked to close is cut: an idle TLS keep-alive connection would otherwise hold
        the stop for the TLS shutdown's 30 seconds."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = asyncio.get_running_loop().time() + STOP_WAIT_SECONDS
        while self.server_state.connections and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        while self.server_state.tasks and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for server in self.servers:
            await server.wait_closed()


def http_server(app: Starlette, host: str, port: int,
                tls: tuple[Path, Path] | None = None) -> EmbeddedServer:
    """uvicorn for `app`; with `tls` (certificate, key) it serves https."""
    cert, key = (str(tls[0]), str(tls[1])) if tls is not None else (None, None)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                            lifespan="off", server_header=False, ssl_certfile=cert,
                            ssl_keyfile=key)
    return EmbeddedServer(config)

"""Starlette application: `/healthz`, `/metrics` (Prometheus), and, when given a provider,
the OAuth server's endpoints and pages (`http/oauth`, `http/signin.py`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailgate import __version__
from mailgate.http import signin
from mailgate.http.bodylimit import BodyLimit
from mailgate.http.oauth import authorize, device, discovery, endpoints, token
from mailgate.http.oauth.provider import Provider
from mailgate.metrics import REGISTRY


def build_app(live_sessions: Callable[[], int], provider: Provider | None = None
              ) -> Starlette:
    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__,
                             "live_sessions": live_sessions()})

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    routes = [Route("/healthz", healthz), Route("/metrics", metrics)]
    if provider is not None:
        routes += signin.routes(provider.gate, provider.sessions)
        for part in (discovery, authorize, device, token, endpoints):
            routes += part.routes(provider)
    return Starlette(routes=routes, middleware=[Middleware(BodyLimit)])


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside mailgate's own event loop: the server, not uvicorn, owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def,override]
        yield


def http_server(app: Starlette, host: str, port: int) -> EmbeddedServer:
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                            lifespan="off", server_header=False)
    return EmbeddedServer(config)

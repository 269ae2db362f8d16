"""`/static/`: the pages' stylesheet and the WebAuthn script, files of the package
(`http/static/`), served from this origin only (the pages' CSP allows nothing else)."""

from __future__ import annotations

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from mailgate.http.oauth.provider import Provider


def routes(_provider: Provider) -> list[Mount]:
    return [Mount("/static", StaticFiles(packages=[("mailgate.http", "static")]),
                  name="static")]

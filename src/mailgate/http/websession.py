"""Who is signed in on the web pages: a signed, HttpOnly, SameSite=Lax cookie (Secure over
TLS) naming the account, the credential epoch it signed in at, when, and the factors it
proved. The pages call one function, `WebSessions.signed_in`, which loads the account and
answers None unless it is still `active` at the same epoch: a password change, compromise,
restore or deactivation (each bumps the epoch) ends every web session at its next request.

The signing key is derived from the data directory's secret key (`DIR/app-passwords.key`),
which every node shares, so any node can read a session another node started. `factors`
lists what the sign-in proved (`password`); a second factor (MFA) adds a step before a
session is complete, and `signed_in` is where it is required.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from mailgate.db.schema import accounts
from mailgate.directory.views import effective_state
from mailgate.service import Service

COOKIE = "mailgate_session"
LIFETIME = 8 * 3600
_SALT = "mailgate.websession"


@dataclass(frozen=True)
class WebAccount:
    account_id: int
    address: str
    name: str
    auth_time: float


class WebSessions:
    def __init__(self, svc: Service) -> None:
        self._svc = svc
        self._signer = URLSafeTimedSerializer(svc.app_secret_key.mac("mailgate web session"),
                                              salt=_SALT)

    def start(self, request: Request, response: Response, account_id: int, epoch: int,
              factors: tuple[str, ...] = ("password",)) -> None:
        value = self._signer.dumps({"a": account_id, "e": epoch, "t": self._svc.clock(),
                                    "f": list(factors)})
        response.set_cookie(COOKIE, value, max_age=LIFETIME, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")

    @staticmethod
    def end(response: Response) -> None:
        response.delete_cookie(COOKIE, path="/")

    async def signed_in(self, request: Request) -> WebAccount | None:
        """The account signed in on this browser, or None."""
        raw = request.cookies.get(COOKIE)
        if not raw or len(raw) > 1024:
            return None
        try:
            data = self._signer.loads(raw, max_age=LIFETIME)
            account_id, epoch, auth_time = int(data["a"]), int(data["e"]), float(data["t"])
            factors = list(data["f"])
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        if "password" not in factors or auth_time > self._svc.clock() + 60:
            return None
        return await asyncio.to_thread(self._load, account_id, epoch, auth_time)

    def _load(self, account_id: int, epoch: int, auth_time: float) -> WebAccount | None:
        with self._svc.reader.connect() as conn:
            row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
        if row is None or row.credential_epoch != epoch or \
                effective_state(row, self._svc.clock()) != "active":
            return None
        return WebAccount(row.id, row.address, row.name or "", auth_time)

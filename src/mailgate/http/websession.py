"""Who is signed in on the web pages: a signed, HttpOnly, SameSite=Lax cookie (Secure over
TLS) naming the account, the credential epoch it signed in at, when, the factors it proved
and when it last proved a second one.

`WebSessions.current` loads the account and answers None unless it is still `active` at the
same epoch: a password change, compromise, restore or deactivation (each bumps the epoch)
ends every web session at its next request. A session is *complete* when it proved a second
factor, or when the account needs none (`auth.mfa.second_factor`: not required by its plan
or department and nothing enrolled). Whether one is needed is read from the database at each
request, so MFA required after a sign-in makes that session a half one until a factor is
proved. `signed_in` answers only complete sessions: a half one reaches the second-factor step
(`http/second_factor.py`) and nothing else.

The signing key is derived from the data directory's secret key (`DIR/app-passwords.key`),
which every node shares, so any node can read a session another node started.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Connection, Row, select
from starlette.requests import Request
from starlette.responses import Response

from mailgate.auth.mfa import SecondFactorState, state_of
from mailgate.db.schema import accounts
from mailgate.directory import mfa_state
from mailgate.directory.views import effective_state
from mailgate.service import Service

COOKIE = "mailgate_session"
LIFETIME = 8 * 3600
_SALT = "mailgate.websession"
#: what proves the second step of a sign-in
SECOND_FACTORS = ("totp", "webauthn", "recovery_code")
#: a second factor proved this recently is fresh enough to remove a factor or make new codes
FRESH_SECONDS = 300.0


@dataclass(frozen=True)
class WebAccount:
    account_id: int
    address: str
    name: str
    auth_time: float
    factors: tuple[str, ...] = ("password",)
    second_factor_at: float = 0.0  # when a second factor was last proved (0: never)


@dataclass(frozen=True)
class Claims:
    """What a genuine session cookie says."""

    account_id: int
    epoch: int
    auth_time: float
    factors: tuple[str, ...]
    proved_at: float


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser, complete or waiting for its second factor."""

    account: WebAccount
    mfa: SecondFactorState
    epoch: int

    @property
    def proved_second_factor(self) -> bool:
        return any(f in SECOND_FACTORS for f in self.account.factors)

    @property
    def complete(self) -> bool:
        return self.proved_second_factor or not self.mfa.needed

    @property
    def must_enrol(self) -> bool:
        return not self.proved_second_factor and self.mfa.must_enrol

    def fresh(self, now: float) -> bool:
        """A second factor was proved within `FRESH_SECONDS` (or the account has none)."""
        if not self.mfa.methods:
            return True
        return now - self.account.second_factor_at <= FRESH_SECONDS


class WebSessions:
    def __init__(self, svc: Service) -> None:
        self._svc = svc
        self._signer = URLSafeTimedSerializer(svc.app_secret_key.mac("mailgate web session"),
                                              salt=_SALT)

    def start(self, request: Request, response: Response, account_id: int, epoch: int,
              factors: tuple[str, ...] = ("password",)) -> None:
        self._set(request, response, {"a": account_id, "e": epoch, "t": self._svc.clock(),
                                       "f": list(factors), "v": 0.0})

    def prove(self, request: Request, response: Response, session: WebSession,
              factor: str) -> WebSession:
        """The session has just proved `factor` (a second factor): say so in its cookie."""
        now = self._svc.clock()
        factors = tuple(dict.fromkeys((*session.account.factors, factor)))
        account = replace(session.account, factors=factors, second_factor_at=now)
        self._set(request, response, {"a": account.account_id, "e": session.epoch,
                                       "t": account.auth_time, "f": list(factors), "v": now})
        return replace(session, account=account)

    def _set(self, request: Request, response: Response, data: dict[str, object]) -> None:
        response.set_cookie(COOKIE, self._signer.dumps(data), max_age=LIFETIME, httponly=True,
                            samesite="lax", secure=request.url.scheme == "https", path="/")

    @staticmethod
    def end(response: Response) -> None:
        response.delete_cookie(COOKIE, path="/")

    async def signed_in(self, request: Request) -> WebAccount | None:
        """The account signed in on this browser with every factor it needs, or None."""
        session = await self.current(request)
        return session.account if session is not None and session.complete else None

    async def current(self, request: Request) -> WebSession | None:
        """The session of this browser, complete or not, while its account may sign in."""
        claims = self.claims(request)
        if claims is None:
            return None
        return await asyncio.to_thread(self._load, claims)

    def claims(self, request: Request) -> Claims | None:
        """What this browser's cookie says, when it is genuine and in date (no database)."""
        raw = request.cookies.get(COOKIE)
        if not raw or len(raw) > 1024:
            return None
        try:
            data = self._signer.loads(raw, max_age=LIFETIME)
            claims = Claims(int(data["a"]), int(data["e"]), float(data["t"]),
                            tuple(str(f) for f in data["f"]), float(data.get("v", 0.0)))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        now = self._svc.clock()
        if "password" not in claims.factors or claims.auth_time > now + 60 or \
                claims.auth_time + LIFETIME < now:
            return None
        return claims

    def _load(self, claims: Claims) -> WebSession | None:
        with self._svc.reader.connect() as conn:
            found = self.resolve(conn, claims)
        return found[1] if found is not None else None

    def resolve(self, conn: Connection, claims: Claims) -> tuple[Row[Any], WebSession] | None:
        """The account's row and the session, on `conn`, while the account is `active` at
        the epoch the cookie names (None otherwise)."""
        row = conn.execute(select(accounts).where(accounts.c.id == claims.account_id)).first()
        if row is None or row.credential_epoch != claims.epoch or \
                effective_state(row, self._svc.clock()) != "active":
            return None
        mfa = state_of(mfa_state.status(conn, row))
        account = WebAccount(row.id, row.address, row.name or "", claims.auth_time,
                             claims.factors, claims.proved_at)
        return row, WebSession(account, mfa, claims.epoch)

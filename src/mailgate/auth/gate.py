"""THE gate every door calls: credentials first, then the access decision, then evidence.

`authenticate(protocol, mechanism, username, secret, peer, tls)` returns a Principal or a
Refusal. The method follows from the credential: a bearer-token mechanism (OAUTHBEARER,
XOAUTH2) signs in with `oauth`; a password mechanism with `app_password` when the secret is
one of the account's live app passwords (found by its keyed hash), else `password`. An
unknown account costs one dummy argon2id verification (the dummy hash is made when the gate
is built, not on the first unknown sign-in), so it answers like a wrong password in the same
time. Verified passwords are remembered briefly as a keyed hash (like Dovecot's auth cache);
the cache entry dies with any password, state or credential change because it is bound to
the account's credential epoch. A token is checked without the database (signature, time,
audience, scope), then against the revocation list with the account it names.

Password sign-ins (app passwords too) first wait out the failed sign-in throttle
(`auth.throttle`) of the account named and the client address; token sign-ins never do. A
principal signed in with an app password or a token carries that credential's id, so revoking
that one credential ends the sessions it opened (`recheck` here, the event follower after).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Row

from mailgate import metrics
from mailgate.audit.recorder import Attempt, Recorder
from mailgate.auth.sasl import TOKEN_MECHANISMS
from mailgate.auth.throttle import SigninThrottle
from mailgate.auth.tokens import AccessToken, TokenRejected
from mailgate.directory import app_passwords, credentials, tokens
from mailgate.directory.views import find_account, normalise_address, policy_view
from mailgate.policy.credentials import app_password_decision
from mailgate.policy.decision import Decision, PolicyView, credential_revoked, decide
from mailgate.protocols.refusals import Refusal
from mailgate.service import Service


@dataclass(frozen=True)
class Principal:
    account_id: int
    address: str
    method: str
    credential_epoch: int | None = None  # the account's, when this sign-in was checked
    credential_id: str | None = None  # the app password's id or the token's jti


@dataclass(frozen=True)
class _Cached:
    epoch: int
    secret_mac: bytes
    expires: float


def is_loopback(peer: str) -> bool:
    try:
        return ipaddress.ip_address(peer.split("%")[0]).is_loopback
    except ValueError:
        return False


class Gate:
    """Authentication + authorisation for every door, off the event loop."""

    def __init__(self, svc: Service, recorder: Recorder, hash_workers: int = 4) -> None:
        self._svc = svc
        self._recorder = recorder
        # Directory reads never queue behind password hashing, and vice versa.
        self._db_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="gate-db")
        self._hash_pool = ThreadPoolExecutor(max_workers=hash_workers,
                                             thread_name_prefix="gate-argon2")
        self._cache: dict[str, _Cached] = {}
        self._cache_lock = threading.Lock()
        self._cache_key = os.urandom(32)
        self._ttl = float(svc.settings.get("auth", "credential_cache_seconds"))
        self.throttle = SigninThrottle.from_settings(svc.settings)
        svc.passwords.prepare_for_unknown_accounts()
        svc.tokens.prepare()

    def record(self, attempt: Attempt) -> None:
        """Queue an attempt for the audit log and usage counters (the web sign-in's second
        step, `auth.second_step`, records its own)."""
        self._recorder.attempt(attempt)

    def close(self) -> None:
        for pool in (self._db_pool, self._hash_pool):
            pool.shutdown(wait=False, cancel_futures=True)

    async def authenticate(self, protocol: str, mechanism: str, username: str, secret: str,
                           peer: str, tls: bool, client_id: str | None = None
                           ) -> Principal | Refusal:
        if not tls and not is_loopback(peer):  # a password or a bearer token: never in clear
            return Refusal("privacy")
        if mechanism.upper() in TOKEN_MECHANISMS:
            return await self._token_sign_in(protocol, username, secret, peer, client_id)
        wait = self.throttle.delay(username, peer)
        if wait > 0:
            metrics.SIGNINS_THROTTLED.labels(protocol=protocol).inc()
            await asyncio.sleep(wait)
        result = await self._password_sign_in(protocol, username, secret, peer, client_id)
        if result == Refusal("credentials"):
            self.throttle.failed(username, peer)
        else:
            self.throttle.succeeded(username)
        return result

    async def sign_in_page(self, username: str, password: str, peer: str, tls: bool,
                           client_id: str | None = None) -> Principal | Refusal:
        """The sign-in page of the OAuth server, recorded as protocol `web`, method
        `password`: the account's own password only (an app password opens its doors, never
        the page that hands out tokens for any door), throttled like every door, and only for
        an account that is `active`. The doors the tokens open are decided where they are
        used, so no door's policy is applied here."""
        if not tls and not is_loopback(peer):
            return Refusal("privacy")
        wait = self.throttle.delay(username, peer)
        if wait > 0:
            metrics.SIGNINS_THROTTLED.labels(protocol="web").inc()
            await asyncio.sleep(wait)
        loop = asyncio.get_running_loop()
        row, _ = await loop.run_in_executor(self._db_pool, self._load, username)
        now = self._svc.clock()
        ok = self._cached(row, password, now) or await loop.run_in_executor(
            self._hash_pool, self._verify, row, password, now)
        view = None
        if ok and row is not None:
            checked = row
            row, view = await loop.run_in_executor(self._db_pool, self._load, username)
            ok = row is not None and row.credential_epoch == checked.credential_epoch
        if not ok or row is None or view is None:
            self.throttle.failed(username, peer)
            self._recorder.attempt(Attempt(now, username[:320], row.id if row else None,
                                           "web", "password", peer, client_id, False,
                                           "bad_credentials"))
            return Refusal("credentials")
        self.throttle.succeeded(username)
        decision = decide(view, "web", now) if view.state != "active" else None
        self._recorder.attempt(Attempt(now, row.address, row.id, "web", "password", peer,
                                       client_id, decision is None,
                                       decision.reason if decision else "signed_in"))
        if decision is not None:
            return Refusal("door", decision)
        return Principal(row.id, row.address, "password", row.credential_epoch)

    async def _password_sign_in(self, protocol: str, username: str, secret: str, peer: str,
                                client_id: str | None) -> Principal | Refusal:
        """PLAIN / LOGIN / USER+PASS: an app password of the account, else its password."""
        loop = asyncio.get_running_loop()
        method = "password"
        row, view, app = await loop.run_in_executor(self._db_pool, self._load_for_secret,
                                                    username, secret)
        now = self._svc.clock()
        if row is not None and view is not None and app is not None:
            decision = app_password_decision(
                decide(view, protocol, now, method="app_password", peer=peer),
                app.protocols.split(","), app_passwords.networks_of(app), peer)
            self._recorder.attempt(Attempt(now, row.address, row.id, protocol, "app_password",
                                           peer, client_id, decision.allowed, decision.reason,
                                           app.id))
            if not decision.allowed:
                return Refusal("door", decision)
            return Principal(row.id, row.address, "app_password", row.credential_epoch,
                             str(app.id))
        if not self._cached(row, secret, now):
            ok = await loop.run_in_executor(self._hash_pool, self._verify, row, secret, now)
            if ok:  # that took a while: decide on what the directory says now
                checked = row
                row, view = await loop.run_in_executor(self._db_pool, self._load, username)
                ok = row is not None and checked is not None and \
                    row.credential_epoch == checked.credential_epoch
            if not ok or row is None or view is None:
                self._recorder.attempt(Attempt(now, username[:320], row.id if row else None,
                                               protocol, method, peer, client_id, False,
                                               "bad_credentials"))
                return Refusal("credentials")
        assert row is not None and view is not None
        decision = decide(view, protocol, now, method=method, peer=peer)
        self._recorder.attempt(Attempt(now, row.address, row.id, protocol, method, peer,
                                       client_id, decision.allowed, decision.reason))
        if not decision.allowed:
            return Refusal("door", decision)
        return Principal(row.id, row.address, method, row.credential_epoch)

    async def _token_sign_in(self, protocol: str, username: str, token: str, peer: str,
                             client_id: str | None) -> Principal | Refusal:
        """OAUTHBEARER / XOAUTH2: the token names the account; a user name, when the client
        sends one, must be that account."""
        now = self._svc.clock()
        try:
            claims = self._svc.tokens.validate(token, protocol)
            if username and normalise_address(username) != claims.subject:
                raise TokenRejected("another_account")
        except (TokenRejected, ValueError) as error:
            reason = error.reason if isinstance(error, TokenRejected) else "another_account"
            self._recorder.attempt(Attempt(now, username[:320], None, protocol, "oauth", peer,
                                           client_id, False, f"bad_token: {reason}"))
            return Refusal("credentials")
        row, view, revoked = await asyncio.get_running_loop().run_in_executor(
            self._db_pool, self._load_for_token, claims)
        if row is None or view is None or revoked:
            self._recorder.attempt(Attempt(now, claims.subject, row.id if row else None,
                                           protocol, "oauth", peer, client_id, False,
                                           "bad_token: revoked"))
            return Refusal("credentials")
        decision = decide(view, protocol, now, method="oauth", peer=peer)
        self._recorder.attempt(Attempt(now, row.address, row.id, protocol, "oauth", peer,
                                       client_id, decision.allowed, decision.reason))
        if not decision.allowed:
            return Refusal("door", decision)
        return Principal(row.id, row.address, "oauth", row.credential_epoch, claims.token_id)

    def _load_for_token(self, claims: AccessToken
                        ) -> tuple[Row | None, PolicyView | None, bool]:
        now = self._svc.clock()
        with self._svc.reader.connect() as conn:
            row = find_account(conn, claims.subject)
            if row is None:
                return None, None, True
            return row, policy_view(conn, row, now), tokens.is_revoked(conn, row.id, claims)

    def _load_for_secret(self, username: str, secret: str
                         ) -> tuple[Row | None, PolicyView | None, Row | None]:
        """The account, its policy view and the live app password this secret is, if any."""
        now = self._svc.clock()
        with self._svc.reader.connect() as conn:
            row = find_account(conn, username)
            if row is None:
                return None, None, None
            app = app_passwords.find(conn, row.id, self._svc.app_secret_key.mac(secret), now)
            return row, policy_view(conn, row, now), app

    def _load(self, username: str) -> tuple[Row | None, PolicyView | None]:
        now = self._svc.clock()
        with self._svc.reader.connect() as conn:
            row = find_account(conn, username)
            return row, policy_view(conn, row, now) if row is not None else None

    def _mac(self, secret: str) -> bytes:
        return hmac.new(self._cache_key, secret.encode("utf-8", "surrogatepass"),
                        hashlib.sha256).digest()

    def _cached(self, row: Row | None, secret: str, now: float) -> bool:
        """A recent sign-in with this very secret, and no credential change since."""
        if row is None:
            return False
        with self._cache_lock:
            cached = self._cache.get(row.address)
        return bool(cached and cached.epoch == row.credential_epoch and cached.expires > now
                    and hmac.compare_digest(cached.secret_mac, self._mac(secret)))

    def _verify(self, row: Row | None, secret: str, now: float) -> bool:
        """argon2id (a dummy hash for unknown accounts, so they cost the same)."""
        ok = self._svc.passwords.verify(row.password_hash if row is not None else None, secret)
        if ok and row is not None and self._ttl > 0:
            with self._cache_lock:
                self._cache[row.address] = _Cached(row.credential_epoch, self._mac(secret),
                                                   now + self._ttl)
        return ok

    async def recheck(self, principal: Principal, protocol: str, peer: str) -> Decision:
        """The decision for a session just registered: closes the gap between sign-in and
        registration, in which a change (a new password too) could otherwise slip past the
        event follower."""
        row, view, revoked = await asyncio.get_running_loop().run_in_executor(
            self._db_pool, self._load_for_recheck, principal)
        if row is None or view is None:
            raise LookupError(principal.address)
        decision = decide(view, protocol, self._svc.clock(), method=principal.method,
                          peer=peer, signed_in_epoch=principal.credential_epoch)
        if decision.allowed and revoked:
            return credential_revoked(protocol, principal.method)
        return decision

    def _load_for_recheck(self, principal: Principal
                          ) -> tuple[Row | None, PolicyView | None, bool]:
        """The account, its policy view, and whether the credential signed in with was
        revoked since."""
        now = self._svc.clock()
        with self._svc.reader.connect() as conn:
            row = find_account(conn, principal.address)
            if row is None:
                return None, None, False
            revoked = credentials.revoked(conn, row.id, principal.method,
                                          principal.credential_id)
            return row, policy_view(conn, row, now), revoked

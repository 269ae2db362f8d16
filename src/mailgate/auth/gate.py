"""THE gate every door calls: credentials first, then the access decision, then evidence.

`authenticate(protocol, mechanism, username, secret, peer, tls)` returns a Principal or a
Refusal. An unknown account costs one dummy argon2id verification (the dummy hash is made
when the gate is built, not on the first unknown sign-in), so it answers like a wrong
password in the same time. Verified secrets are remembered briefly as a keyed hash
(like Dovecot's auth cache); the cache entry dies with any password, state or credential
change because it is bound to the account's credential epoch.
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

from mailgate.audit.recorder import Attempt, Recorder
from mailgate.directory.views import find_account, policy_view
from mailgate.policy.decision import Decision, PolicyView, decide
from mailgate.protocols.refusals import Refusal
from mailgate.service import Service

PASSWORD_MECHANISMS = frozenset({"USER", "PLAIN", "LOGIN"})


@dataclass(frozen=True)
class Principal:
    account_id: int
    address: str
    method: str
    credential_epoch: int | None = None  # the account's, when this sign-in was checked


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
        svc.passwords.prepare_for_unknown_accounts()

    def close(self) -> None:
        for pool in (self._db_pool, self._hash_pool):
            pool.shutdown(wait=False, cancel_futures=True)

    async def authenticate(self, protocol: str, mechanism: str, username: str, secret: str,
                           peer: str, tls: bool, client_id: str | None = None
                           ) -> Principal | Refusal:
        if mechanism.upper() in PASSWORD_MECHANISMS and not tls and not is_loopback(peer):
            return Refusal("privacy")
        loop = asyncio.get_running_loop()
        method = "password"
        row, view = await loop.run_in_executor(self._db_pool, self._load, username)
        now = self._svc.clock()
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
        row, view = await asyncio.get_running_loop().run_in_executor(
            self._db_pool, self._load, principal.address)
        if row is None or view is None:
            raise LookupError(principal.address)
        return decide(view, protocol, self._svc.clock(), method=principal.method, peer=peer,
                      signed_in_epoch=principal.credential_epoch)

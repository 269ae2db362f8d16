"""The parts of mailgate built once for a data directory; the CLI and the server share them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine

from mailgate import config
from mailgate.audit.key import AuditKey
from mailgate.audit.log import KEY_OPTION
from mailgate.auth.app_secrets import AppSecretKey
from mailgate.auth.keys import SigningKeys
from mailgate.auth.mfa_key import MfaKey
from mailgate.auth.passwords import Passwords
from mailgate.auth.tokens import AccessTokens
from mailgate.db.engine import is_initialised, make_engine
from mailgate.policy.catalogue import normalise_protocol


class NotInitialised(Exception):
    """The data directory has no mailgate database yet."""


@dataclass
class Service:
    """Settings, database engine, password hasher, audit key and clock for one data
    directory."""

    settings: config.Settings
    engine: Engine  # for changes: `with svc.engine.begin()`; carries the audit key
    reader: Engine  # for reads: `with svc.reader.connect()` never waits for a writer
    passwords: Passwords
    audit_key: AuditKey
    clock: Callable[[], float] = field(default=time.time)

    @classmethod
    def open(cls, data_dir: Path, require_init: bool = True) -> Service:
        settings = config.load(data_dir)
        engine = make_engine(settings.database_url)
        if require_init and not is_initialised(engine):
            raise NotInitialised(
                f"no mailgate data in {data_dir}: run 'mailgate --data {data_dir} init' first"
            )
        auth = settings.values["auth"]
        passwords = Passwords(int(auth["argon2_time_cost"]), int(auth["argon2_memory_kib"]),
                              int(auth["argon2_parallelism"]))
        reader = engine if engine.dialect.name != "sqlite" else make_engine(
            settings.database_url, writer=False)
        audit_key = AuditKey.of(data_dir)
        engine.update_execution_options(**{KEY_OPTION: audit_key})  # for audit.log appends
        return cls(settings=settings, engine=engine, reader=reader, passwords=passwords,
                   audit_key=audit_key)

    def dispose(self) -> None:
        self.engine.dispose()
        self.reader.dispose()

    @cached_property
    def tokens(self) -> AccessTokens:
        """OAuth access tokens, signed and checked with the keys in DIR/oauth/keys."""
        issuer = self.settings.get("auth", "oauth_issuer") or \
            f"https://{self.settings.get('server', 'hostname')}"
        return AccessTokens(SigningKeys(self.settings.data_dir), issuer, self.clock)

    @cached_property
    def app_secret_key(self) -> AppSecretKey:
        return AppSecretKey(self.settings.data_dir)

    @cached_property
    def mfa_key(self) -> MfaKey:
        return MfaKey(self.settings.data_dir)

    @property
    def restricted(self) -> frozenset[str]:
        return frozenset(normalise_protocol(p)
                         for p in self.settings.get("policy", "restricted_protocols"))

    @property
    def deactivation_grace(self) -> int:
        return self.settings.seconds("policy", "deactivation_grace")

    @property
    def retention(self) -> int:
        return self.settings.seconds("policy", "retention")

"""The OAuth signing keys: `DIR/oauth/keys/KID.json`, one private JWK per file, mode 0600.

Key ids sort by age (UTC to the microsecond, then random): the newest key signs, every key
still in the folder verifies, so a key is rotated by adding one (`rotate`) and removing the
old file once the tokens it signed have expired. Every node of a cluster needs the same
folder, like the audit key. A key id that is not known makes the set read the folder again
when the folder changed since it was read (one stat), so a key made by another process (the
CLI, another node) is picked up without a restart, and forged key ids cost nothing more.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path

from joserfc.jwk import RSAKey

log = logging.getLogger("mailgate.keys")

ALGORITHM = "RS256"  # what every OpenID Connect client verifies
KEY_BITS = 2048


class SigningKeyError(Exception):
    """The key folder cannot be read or holds something that is not a signing key."""


def keys_dir(data_dir: Path) -> Path:
    return data_dir / "oauth" / "keys"


def _new_kid() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S%f") + "-" + secrets.token_hex(4)


class SigningKeys:
    """The key set of one data directory, read once and cached."""

    def __init__(self, data_dir: Path) -> None:
        self._dir = keys_dir(data_dir)
        self._lock = threading.Lock()
        self._keys: dict[str, RSAKey] = {}
        self._loaded = False
        self._folder_version: int | None = None

    def _load(self) -> None:
        keys: dict[str, RSAKey] = {}
        version = self._version()
        try:
            paths = sorted(self._dir.glob("*.json"))
        except OSError as exc:
            raise SigningKeyError(f"cannot read the signing keys in {self._dir}: {exc}") from None
        for path in paths:
            try:
                key = RSAKey.import_key(json.loads(path.read_text()))
            except (OSError, ValueError) as exc:
                raise SigningKeyError(f"{path} is not a signing key: {exc}") from None
            keys[path.stem] = key
        self._keys, self._loaded, self._folder_version = keys, True, version

    def _version(self) -> int | None:
        try:
            return self._dir.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def _ensure_loaded(self) -> None:
        with self._lock:
            if not self._loaded:
                self._load()

    def rotate(self) -> str:
        """Make a new key, which signs from now on; returns its key id."""
        kid = _new_kid()
        key = RSAKey.generate_key(KEY_BITS, parameters={"kid": kid, "use": "sig",
                                                        "alg": ALGORITHM}, private=True)
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self._dir.parent, 0o700)
        tmp = self._dir / f".{kid}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(key.as_dict(private=True)))
            out.flush()
            os.fsync(out.fileno())
        os.rename(tmp, self._dir / f"{kid}.json")
        with self._lock:
            self._load()
        return kid

    def signing_key(self) -> RSAKey:
        """The newest key; the first one is made when there is none."""
        self._ensure_loaded()
        with self._lock:
            newest = max(self._keys) if self._keys else None
        if newest is None:
            self.rotate()
            return self.signing_key()
        return self._keys[newest]

    def verifying_key(self, kid: str) -> RSAKey | None:
        """The key with this id, reading the folder again once when it is not known."""
        self._ensure_loaded()
        key = self._keys.get(kid)
        if key is None and kid:
            with self._lock:
                if self._version() != self._folder_version:
                    try:
                        self._load()
                    except SigningKeyError as error:  # keep verifying with the keys we have
                        log.warning("signing keys not reloaded: %s", error)
            key = self._keys.get(kid)
        return key

    def public_jwks(self) -> list[dict[str, object]]:
        """Every key in the folder, public part only: the newest signs, the older ones still
        verify the tokens they signed, so clients must know all of them. A key another
        process added since is read now (one stat when nothing changed)."""
        self._ensure_loaded()
        with self._lock:
            if self._version() != self._folder_version:
                try:
                    self._load()
                except SigningKeyError as error:  # serve the keys we have
                    log.warning("signing keys not reloaded: %s", error)
            keys = sorted(self._keys.items())
        return [{**key.as_dict(private=False), "kid": kid, "use": "sig", "alg": ALGORITHM}
                for kid, key in keys]

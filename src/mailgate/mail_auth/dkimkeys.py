"""DKIM keys: `DIR/dkim/DOMAIN/SELECTOR.pem`, readable only by the server's user.

`mailgate dkim generate DOMAIN` makes an RSA 2048 key and prints the TXT record to publish
at `SELECTOR._domainkey.DOMAIN`. A domain with several keys signs with the newest one, so a
key is rotated by generating one under a new selector, publishing it, then removing the old
file once its record has been gone a while.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048
DEFAULT_SELECTOR = "mailgate"
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")
_SELECTOR = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


class DkimKeyError(ValueError):
    """A domain or selector that cannot name a key, or a key that is already there."""


class DkimKeyExists(DkimKeyError):
    """The domain already has a key with that selector (it is never replaced)."""


@dataclass(frozen=True)
class SigningKey:
    domain: str
    selector: str
    private_pem: bytes


def keys_dir(data_dir: Path) -> Path:
    return data_dir / "dkim"


def _checked(domain: str, selector: str) -> tuple[str, str]:
    domain, selector = domain.strip().lower().rstrip("."), selector.strip().lower()
    if not _DOMAIN.match(domain):
        raise DkimKeyError(f"{domain!r} is not a domain name")
    if not _SELECTOR.match(selector):
        raise DkimKeyError(f"{selector!r} is not a DKIM selector (letters, digits, -)")
    return domain, selector


def generate(data_dir: Path, domain: str, selector: str = DEFAULT_SELECTOR) -> SigningKey:
    """A new key for `domain`, written with mode 0600 (an existing one is never replaced)."""
    domain, selector = _checked(domain, selector)
    folder = keys_dir(data_dir) / domain
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(keys_dir(data_dir), 0o700)
    pem = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption())
    path = folder / f"{selector}.pem"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise DkimKeyExists(f"{domain} already has a key with selector {selector}; choose "
                           "another selector (--selector) to rotate") from None
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())
    return SigningKey(domain, selector, pem)


def signing_key(data_dir: Path, domain: str) -> SigningKey | None:
    """The newest key of `domain`, or None when it has none."""
    folder = keys_dir(data_dir) / domain.lower()
    if not _DOMAIN.match(domain.lower()) or not folder.is_dir():
        return None
    found = sorted(folder.glob("*.pem"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    if not found:
        return None
    newest = found[-1]
    return SigningKey(domain.lower(), newest.stem, newest.read_bytes())


def public_key_b64(key: SigningKey) -> str:
    """The public key as the `p=` tag wants it (SubjectPublicKeyInfo, base64)."""
    private = serialization.load_pem_private_key(key.private_pem, password=None)
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def txt_value(key: SigningKey) -> str:
    return f"v=DKIM1; k=rsa; p={public_key_b64(key)}"


def dns_record(key: SigningKey) -> str:
    """The zone-file line to publish, the value split in strings of at most 255 octets."""
    value = txt_value(key)
    strings = " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))
    return f"{key.selector}._domainkey.{key.domain}. IN TXT ( {strings} )"

"""TOTP codes (RFC 6238, pyotp): six digits every 30 seconds from a 160-bit secret.

Pure functions, no storage: a new secret, its `otpauth://` URI and QR code (inline SVG by
segno, no image library), reading what a user typed, and which time step a code belongs to.
A code is accepted one step either side of now (a phone clock a little off, a code typed as
it changed); the caller keeps the last accepted step so that no code, nor any older one, is
accepted twice (`directory.totp_factor`).
"""

from __future__ import annotations

import hmac

import pyotp
import segno

DIGITS = 6
INTERVAL = 30
WINDOW = 1  # steps accepted either side of now
SEPARATORS = " -\t"


def new_secret() -> str:
    """A new secret in base32 (32 letters, 160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, address: str, issuer: str) -> str:
    """The `otpauth://totp/...` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(
        name=address, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as a QR code: an `<svg>` element to put inline in a page."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=4)


def parse_code(typed: str) -> str | None:
    """The six digits a user typed (spaces and dashes ignored), or None if it is not a code."""
    if len(typed) > 32:
        return None
    code = "".join(ch for ch in typed if ch not in SEPARATORS)
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    return code


def step_at(now: float) -> int:
    return int(now // INTERVAL)


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (within the window around `now`) whose code is `code`, else None.
    Every step of the window is compared, so the time taken says nothing about which."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
    current = step_at(now)
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    return found

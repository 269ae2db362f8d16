"""What the OAuth authorization server keeps between requests: authorization codes, device
codes (RFC 8628) and refresh-token families, each secret stored only as its keyed hash.

Functions here work inside the caller's transaction (`Connection`) and take the keyed hash
function, so they neither issue tokens nor audit: `http/oauth/issuing.py` does that. Codes are
single-use (taking one deletes it); a refresh token is rotated on use, and using one that was
already rotated is a replay: the whole family is revoked (RFC 9700 §4.14.2).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Row, delete, select, update

from mailgate.db.schema import (
    oauth_codes,
    oauth_device_codes,
    oauth_refresh_families,
    oauth_refresh_tokens,
)

Mac = Callable[[str], str]
CODE_LIFETIME = 120
DEVICE_CODE_LIFETIME = 600
DEVICE_POLL_INTERVAL = 5
#: RFC 8628 §6.1: consonants only (no vowels, so no words), typed in upper or lower case
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8


def _secret() -> str:
    return secrets.token_urlsafe(32)


def user_code_shown(code: str) -> str:
    """`WDJBMJHT` as people read it: `WDJB-MJHT`."""
    return f"{code[:4]}-{code[4:]}"


# --- authorization codes --------------------------------------------------------------------

def new_code(conn: Connection, mac: Mac, now: float, *, client_id: str, account_id: int,
             redirect_uri: str, scope: str, nonce: str | None, code_challenge: str | None,
             auth_time: float) -> str:
    code = _secret()
    conn.execute(delete(oauth_codes).where(oauth_codes.c.expires_at <= now))
    conn.execute(oauth_codes.insert().values(
        code_hash=mac(code), client_id=client_id, account_id=account_id,
        redirect_uri=redirect_uri, scope=scope, nonce=nonce, code_challenge=code_challenge,
        auth_time=auth_time, expires_at=now + CODE_LIFETIME))
    return code


def take_code(conn: Connection, mac: Mac, code: str, now: float) -> Row | None:
    """The code's grant, used up: a second exchange finds nothing."""
    digest = mac(code)
    row = conn.execute(select(oauth_codes).where(oauth_codes.c.code_hash == digest)).first()
    if row is None:
        return None
    taken = conn.execute(delete(oauth_codes).where(oauth_codes.c.code_hash == digest)).rowcount
    return row if taken == 1 and row.expires_at > now else None


# --- device codes ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DeviceCode:
    device_code: str
    user_code: str
    expires_in: int
    interval: int


def new_device_code(conn: Connection, mac: Mac, now: float, client_id: str, scope: str
                    ) -> DeviceCode:
    conn.execute(delete(oauth_device_codes).where(oauth_device_codes.c.expires_at <= now))
    device_code = _secret()
    user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
    conn.execute(oauth_device_codes.insert().values(
        device_code_hash=mac(device_code), user_code_hash=mac(user_code), client_id=client_id,
        scope=scope, status="pending", interval=DEVICE_POLL_INTERVAL,
        expires_at=now + DEVICE_CODE_LIFETIME))
    return DeviceCode(device_code, user_code_shown(user_code), DEVICE_CODE_LIFETIME,
                      DEVICE_POLL_INTERVAL)


def normalised_user_code(typed: str) -> str:
    return "".join(c for c in typed.upper() if c.isalnum())[:32]


def pending_device_code(conn: Connection, mac: Mac, user_code: str, now: float) -> Row | None:
    """The device code a user typed, while it still waits for them."""
    typed = normalised_user_code(user_code)
    if len(typed) != USER_CODE_LENGTH:
        return None
    row = conn.execute(select(oauth_device_codes).where(
        oauth_device_codes.c.user_code_hash == mac(typed))).first()
    if row is None or row.status != "pending" or row.expires_at <= now:
        return None
    return row


def settle_device_code(conn: Connection, device_code_hash: str, account_id: int,
                       approved: bool, auth_time: float) -> bool:
    """The user's answer; False when the code no longer waits for one."""
    return conn.execute(update(oauth_device_codes).where(
        oauth_device_codes.c.device_code_hash == device_code_hash,
        oauth_device_codes.c.status == "pending").values(
        status="approved" if approved else "denied", account_id=account_id,
        auth_time=auth_time)).rowcount == 1


def poll_device_code(conn: Connection, mac: Mac, device_code: str, client_id: str,
                     now: float) -> str | Row:
    """RFC 8628 §3.5: the approved grant (used up), or the error code for the client:
    authorization_pending, slow_down, access_denied, expired_token, invalid_grant."""
    digest = mac(device_code)
    row = conn.execute(select(oauth_device_codes).where(
        oauth_device_codes.c.device_code_hash == digest)).first()
    if row is None or row.client_id != client_id:
        return "invalid_grant"
    if row.expires_at <= now:
        return "expired_token"
    if row.status == "denied":
        conn.execute(delete(oauth_device_codes).where(
            oauth_device_codes.c.device_code_hash == digest))
        return "access_denied"
    if row.status == "approved":
        taken = conn.execute(delete(oauth_device_codes).where(
            oauth_device_codes.c.device_code_hash == digest)).rowcount
        return row if taken == 1 else "invalid_grant"
    too_soon = row.last_polled_at is not None and now - row.last_polled_at < row.interval
    conn.execute(update(oauth_device_codes).where(
        oauth_device_codes.c.device_code_hash == digest).values(
        last_polled_at=now, interval=row.interval + 5 if too_soon else row.interval))
    return "slow_down" if too_soon else "authorization_pending"


# --- refresh-token families -----------------------------------------------------------------

def new_family(conn: Connection, now: float, *, client_id: str, account_id: int, scope: str,
               auth_time: float) -> str:
    family_id = secrets.token_hex(16)
    conn.execute(oauth_refresh_families.insert().values(
        id=family_id, client_id=client_id, account_id=account_id, scope=scope,
        auth_time=auth_time, created_at=now))
    return family_id


def new_refresh_token(conn: Connection, mac: Mac, now: float, family_id: str,
                      access_token_id: str, lifetime: int) -> str:
    token = _secret()
    conn.execute(oauth_refresh_tokens.insert().values(
        token_hash=mac(token), family_id=family_id, access_token_id=access_token_id,
        issued_at=now, expires_at=now + lifetime))
    return token


@dataclass(frozen=True)
class Refresh:
    """What presenting a refresh token found: its live family, or a replay, or nothing."""

    family: Row | None
    replayed: bool = False


def refresh_token_row(conn: Connection, mac: Mac, token: str) -> Row | None:
    """The refresh token joined with its family (one row of both), whatever their state."""
    return conn.execute(select(oauth_refresh_tokens, oauth_refresh_families).join(
        oauth_refresh_families,
        oauth_refresh_families.c.id == oauth_refresh_tokens.c.family_id).where(
        oauth_refresh_tokens.c.token_hash == mac(token))).first()


def use_refresh_token(conn: Connection, mac: Mac, token: str, client_id: str, now: float
                      ) -> Refresh:
    """Rotate a refresh token: its family when it was live (the token is then used up), a
    replay when it had been rotated already (the caller revokes the family), else nothing."""
    row = refresh_token_row(conn, mac, token)
    if row is None:
        return Refresh(None)
    if row.client_id != client_id or row.revoked_at is not None or row.expires_at <= now:
        return Refresh(None)
    if row.rotated_at is not None:
        return Refresh(row, replayed=True)
    rotated = conn.execute(update(oauth_refresh_tokens).where(
        oauth_refresh_tokens.c.token_hash == row.token_hash,
        oauth_refresh_tokens.c.rotated_at.is_(None)).values(rotated_at=now)).rowcount
    return Refresh(row, replayed=rotated != 1)


def revoke_family(conn: Connection, family_id: str, now: float) -> list[str]:
    """Revoke a family; returns the ids of the access tokens issued in it (still live, maybe)."""
    conn.execute(update(oauth_refresh_families).where(
        oauth_refresh_families.c.id == family_id,
        oauth_refresh_families.c.revoked_at.is_(None)).values(revoked_at=now))
    return [r.access_token_id for r in conn.execute(select(
        oauth_refresh_tokens.c.access_token_id).where(
        oauth_refresh_tokens.c.family_id == family_id))]


def revoke_account(conn: Connection, account_id: int, now: float) -> None:
    """Every refresh-token family, authorization code and device code of the account."""
    conn.execute(update(oauth_refresh_families).where(
        oauth_refresh_families.c.account_id == account_id,
        oauth_refresh_families.c.revoked_at.is_(None)).values(revoked_at=now))
    conn.execute(delete(oauth_codes).where(oauth_codes.c.account_id == account_id))
    conn.execute(delete(oauth_device_codes).where(
        oauth_device_codes.c.account_id == account_id))

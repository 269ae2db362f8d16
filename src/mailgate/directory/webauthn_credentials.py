"""An account's WebAuthn authenticators (security keys, platform authenticators) as a second
factor: registering one and signing in with one.

Each ceremony is two calls. `*_begin` stores a new challenge (one open challenge per account
and ceremony, replacing an older one, valid `CHALLENGE_LIFETIME` seconds) and returns the
options for the browser; `*_finish` takes the challenge back out (it is used once, whatever
the answer) and verifies the browser's answer against it (`auth.webauthn_factor`). A
credential belongs to one account; its sign count must grow at every use (a cloned
authenticator shows an old count) and moves in one conditional update, so the same answer
cannot be accepted twice.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select, update

from mailgate.auth import webauthn_factor
from mailgate.auth.webauthn_factor import RelyingParty, WebAuthnRejected
from mailgate.db.schema import webauthn_challenges, webauthn_credentials
from mailgate.directory import mfa_state, recovery_codes
from mailgate.directory.authority import Actor
from mailgate.directory.changes import record
from mailgate.directory.errors import Conflict, DirectoryError
from mailgate.directory.mfa_state import Outcome, Verdict
from mailgate.directory.views import active_account, require_plain
from mailgate.service import Service

CHALLENGE_LIFETIME = 300.0
MAX_LABEL = 128
REGISTER, AUTHENTICATE = "register", "authenticate"


def relying_party(svc: Service) -> RelyingParty:
    """The host of the OAuth issuer, where the sign-in pages are."""
    return RelyingParty.of_issuer(svc.tokens.issuer, svc.settings.get("server", "domain"))


def _credential_ids(conn: Connection, account_id: int) -> list[str]:
    return [r.credential_id for r in conn.execute(select(webauthn_credentials.c.credential_id)
                                                  .where(webauthn_credentials.c.account_id ==
                                                         account_id))]


def _open_challenge(conn: Connection, account_id: int, ceremony: str, challenge: bytes,
                    now: float) -> None:
    conn.execute(delete(webauthn_challenges).where(webauthn_challenges.c.account_id == account_id,
                                                   webauthn_challenges.c.ceremony == ceremony))
    conn.execute(webauthn_challenges.insert().values(
        account_id=account_id, ceremony=ceremony, challenge=challenge,
        expires_at=now + CHALLENGE_LIFETIME))


def _take_challenge(conn: Connection, account_id: int, ceremony: str, now: float
                    ) -> bytes | None:
    """The open challenge, removed so it serves once; None if there is none or it expired."""
    where = (webauthn_challenges.c.account_id == account_id,
             webauthn_challenges.c.ceremony == ceremony)
    found = conn.execute(select(webauthn_challenges).where(*where)).first()
    if found is None or conn.execute(delete(webauthn_challenges).where(*where)).rowcount != 1:
        return None
    return bytes(found.challenge) if found.expires_at > now else None


def register_begin(svc: Service, address: str) -> str:
    """Options (JSON) for `navigator.credentials.create()` for the account itself."""
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = active_account(conn, address, now)
        options, challenge = webauthn_factor.registration_options(
            relying_party(svc), svc.mfa_key.user_handle(row.id), row.address,
            _credential_ids(conn, row.id))
        _open_challenge(conn, row.id, REGISTER, challenge, now)
    return options


def register_finish(svc: Service, address: str, answer: str, label: str = "") -> list[str]:
    """Keep the new authenticator once its answer verifies; returns the new recovery codes
    when it is the account's first second factor, else an empty list."""
    if len(label) > MAX_LABEL:
        raise DirectoryError(f"a label is at most {MAX_LABEL} characters")
    require_plain(label, "label")
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = active_account(conn, address, now)
        challenge = _take_challenge(conn, row.id, REGISTER, now)
    if challenge is None:
        raise DirectoryError("no security key registration is under way (or it took more "
                             "than five minutes): start again")
    try:
        new = webauthn_factor.verify_registration(relying_party(svc), answer, challenge)
    except WebAuthnRejected as exc:
        raise DirectoryError(f"the security key's answer does not verify: {exc}") from None
    with svc.engine.begin() as conn:
        row = active_account(conn, address, now)
        if conn.execute(select(webauthn_credentials.c.id).where(
                webauthn_credentials.c.credential_id == new.credential_id)).first():
            raise Conflict("this security key is registered already")
        first = not mfa_state.enrolment(conn, row.id).methods
        new_id = conn.execute(webauthn_credentials.insert().values(
            account_id=row.id, credential_id=new.credential_id, public_key=new.public_key,
            sign_count=new.sign_count, label=label, created_at=now)).inserted_primary_key[0]
        codes = recovery_codes.issue(conn, svc, row.id, now) if first else []
        record(conn, now, Actor.itself(row.address, row.id), "mfa.webauthn.register",
               account=row.address, scope="none", authenticator=new_id, label=label,
               recovery_codes_made=len(codes))
    return codes


def authenticate_begin(svc: Service, address: str) -> str | None:
    """Options (JSON) for `navigator.credentials.get()`; None if the account has no
    authenticator."""
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = active_account(conn, address, now)
        credential_ids = _credential_ids(conn, row.id)
        if not credential_ids:
            return None
        options, challenge = webauthn_factor.authentication_options(relying_party(svc),
                                                                    credential_ids)
        _open_challenge(conn, row.id, AUTHENTICATE, challenge, now)
    return options


def authenticate_finish(svc: Service, address: str, answer: str) -> Verdict:
    """ACCEPTED when one of the account's authenticators signed the open challenge with a
    sign count above the last one seen; WRONG otherwise."""
    now = svc.clock()
    with svc.engine.begin() as conn:
        row = active_account(conn, address, now)
        challenge = _take_challenge(conn, row.id, AUTHENTICATE, now)
    try:
        credential_id = webauthn_factor.answered_credential(answer)
    except WebAuthnRejected:
        return Verdict(Outcome.WRONG)
    if challenge is None:
        return Verdict(Outcome.WRONG)
    with svc.reader.connect() as conn:
        stored = conn.execute(select(webauthn_credentials).where(
            webauthn_credentials.c.credential_id == credential_id,
            webauthn_credentials.c.account_id == row.id)).first()
    if stored is None:
        return Verdict(Outcome.WRONG)
    try:
        count = webauthn_factor.verify_authentication(
            relying_party(svc), answer, challenge, bytes(stored.public_key), stored.sign_count)
    except WebAuthnRejected:
        return Verdict(Outcome.WRONG)
    with svc.engine.begin() as conn:
        moved = conn.execute(update(webauthn_credentials).where(
            webauthn_credentials.c.id == stored.id,
            webauthn_credentials.c.sign_count == stored.sign_count).values(
            sign_count=count, last_used_at=now)).rowcount
    return Verdict(Outcome.ACCEPTED if moved == 1 else Outcome.REUSED)

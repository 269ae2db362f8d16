"""Multi-factor authentication: what the web sign-in pages call for the second step (SPEC §6).

After the password step has accepted ADDRESS, a sign-in page asks `second_factor(address)`:

- `needed`: ask for a second factor: MFA is `required` (by the plan or department,
  `mailgate mfa require`), or the account enrolled one of its own accord;
- `must_enrol`: required but nothing enrolled yet: the page leads the user through enrolment
  (TOTP or a security key) before the sign-in completes;
- `methods`: what the account can answer with (`totp`, `webauthn`); recovery codes always
  work when `recovery_codes_left` > 0.

Checking a factor:
    `verify_totp(address, code)`           -> Verdict (ACCEPTED, WRONG, REUSED, THROTTLED)
    `verify_recovery_code(address, code)`  -> Verdict (a code works once)
    `webauthn_begin(address)`              -> options JSON for navigator.credentials.get()
    `webauthn_finish(address, answer)`     -> Verdict, `answer` the browser's JSON
Enrolling (the account itself, signed in):
    `totp_enrol_begin(address)`            -> TotpEnrolment (URI, QR code as SVG, secret)
    `totp_enrolment(address)`              -> the enrolment under way, else a new one
    `totp_enrol_confirm(address, code)`    -> recovery codes to show once (empty if not first)
    `webauthn_register_begin(address)`     -> options JSON for navigator.credentials.create()
    `webauthn_register_finish(address, answer, label)` -> recovery codes, as above
    `new_recovery_codes(address)`          -> ten new codes; the old ones stop working
    `remove_factor(address, factor)`       -> `totp` or `webauthn:ID` removed (not the last
                                              one while MFA is required)

Only an ACCEPTED verdict completes the sign-in; THROTTLED carries `retry_at` for the page to
say when to try again (or to offer another factor). A closed account (compromised, pending,
deactivating, deactivated) raises `NotAllowed`; an enrolment that cannot go on raises
`DirectoryError` whose message is for the user. Every call runs its database work in a
thread, off the event loop. Where the secrets are and why: `auth.mfa_key`; replay and
guessing: `directory.totp_factor`, `directory.webauthn_credentials`; when factors are
removed (`mfa reset`, `account restore`): `directory.mfa`, `directory.accounts`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from mailgate.directory import mfa, mfa_state, recovery_codes, totp_factor, webauthn_credentials
from mailgate.directory.mfa_state import MfaStatus, Verdict
from mailgate.directory.totp_factor import TotpEnrolment
from mailgate.directory.views import account_row
from mailgate.service import Service


@dataclass(frozen=True)
class SecondFactorState:
    required: bool
    required_by: tuple[str, ...]
    methods: tuple[str, ...]
    recovery_codes_left: int

    @property
    def needed(self) -> bool:
        return self.required or bool(self.methods)

    @property
    def must_enrol(self) -> bool:
        return self.required and not self.methods


def state_of(status: MfaStatus) -> SecondFactorState:
    """What a sign-in needs, from an account's MFA status (`directory.mfa_state.status`)."""
    return SecondFactorState(status.required, status.required_by, status.enrolment.methods,
                             status.enrolment.recovery_codes_left)


class MultiFactor:
    """The second step of an interactive sign-in, for one service."""

    def __init__(self, svc: Service) -> None:
        self._svc = svc

    def _state(self, address: str) -> SecondFactorState:
        with self._svc.reader.connect() as conn:
            return state_of(mfa_state.status(conn, account_row(conn, address)))

    def _status(self, address: str) -> MfaStatus:
        with self._svc.reader.connect() as conn:
            return mfa_state.status(conn, account_row(conn, address))

    async def status(self, address: str) -> MfaStatus:
        """Everything enrolled (TOTP since when, each security key, codes left) and who
        requires MFA, for the account's own page."""
        return await asyncio.to_thread(self._status, address)

    async def second_factor(self, address: str) -> SecondFactorState:
        return await asyncio.to_thread(self._state, address)

    async def verify_totp(self, address: str, code: str) -> Verdict:
        return await asyncio.to_thread(totp_factor.verify, self._svc, address, code)

    async def verify_recovery_code(self, address: str, code: str) -> Verdict:
        return await asyncio.to_thread(recovery_codes.use, self._svc, address, code)

    async def webauthn_begin(self, address: str) -> str | None:
        return await asyncio.to_thread(webauthn_credentials.authenticate_begin, self._svc,
                                       address)

    async def webauthn_finish(self, address: str, answer: str) -> Verdict:
        return await asyncio.to_thread(webauthn_credentials.authenticate_finish, self._svc,
                                       address, answer)

    async def totp_enrol_begin(self, address: str) -> TotpEnrolment:
        return await asyncio.to_thread(totp_factor.begin, self._svc, address)

    async def totp_enrolment(self, address: str) -> TotpEnrolment:
        """The TOTP enrolment under way (shown again), else a new one."""
        return await asyncio.to_thread(totp_factor.enrolment, self._svc, address)

    async def remove_factor(self, address: str, factor: str) -> None:
        """The account removes one of its own factors (`totp` or `webauthn:ID`)."""
        await asyncio.to_thread(mfa.remove_own, self._svc, address, factor)

    async def totp_enrol_confirm(self, address: str, code: str) -> list[str]:
        return await asyncio.to_thread(totp_factor.confirm, self._svc, address, code)

    async def webauthn_register_begin(self, address: str) -> str:
        return await asyncio.to_thread(webauthn_credentials.register_begin, self._svc, address)

    async def webauthn_register_finish(self, address: str, answer: str,
                                       label: str = "") -> list[str]:
        return await asyncio.to_thread(webauthn_credentials.register_finish, self._svc,
                                       address, answer, label)

    async def new_recovery_codes(self, address: str) -> list[str]:
        return await asyncio.to_thread(recovery_codes.regenerate, self._svc, address)

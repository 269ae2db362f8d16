"""The second step of a web sign-in: one answer (a TOTP code, a recovery code or a WebAuthn
assertion) checked for an account whose password was right.

Before the check it waits out the failed sign-in throttle (`auth.throttle`) of the account
and the client address, like a password; a wrong, replayed or throttled answer counts as a
failure there. Every attempt, right or wrong, is recorded like a sign-in (audit log and usage
counters): protocol `web`, the factor as method, the result and reason (`second_factor`,
`bad_second_factor`, `reused_code`, `too_many_codes`). The answer itself is never recorded.
Replay and the database-wide brake on TOTP guessing are `directory.totp_factor`'s.
"""

from __future__ import annotations

import asyncio

from mailgate import metrics
from mailgate.audit.recorder import Attempt
from mailgate.auth.gate import Gate
from mailgate.auth.mfa import MultiFactor
from mailgate.directory.mfa_state import Outcome, Verdict

FACTORS = ("totp", "recovery_code", "webauthn")
MAX_ANSWER = 16_384
_REASONS = {Outcome.ACCEPTED: "second_factor", Outcome.WRONG: "bad_second_factor",
            Outcome.REUSED: "reused_code", Outcome.THROTTLED: "too_many_codes"}


class SecondStep:
    def __init__(self, gate: Gate, mfa: MultiFactor) -> None:
        self._gate = gate
        self._mfa = mfa

    async def check(self, account_id: int, address: str, factor: str, answer: str, peer: str,
                    now: float) -> Verdict:
        """ACCEPTED, WRONG, REUSED or THROTTLED for this answer (`factor` one of FACTORS)."""
        wait = self._gate.throttle.delay(address, peer)
        if wait > 0:
            metrics.SIGNINS_THROTTLED.labels(protocol="web").inc()
            await asyncio.sleep(wait)
        if factor not in FACTORS or not answer or len(answer) > MAX_ANSWER:
            verdict = Verdict(Outcome.WRONG)
        elif factor == "totp":
            verdict = await self._mfa.verify_totp(address, answer)
        elif factor == "recovery_code":
            verdict = await self._mfa.verify_recovery_code(address, answer)
        else:
            verdict = await self._mfa.webauthn_finish(address, answer)
        if verdict.accepted:
            self._gate.throttle.succeeded(address)
        else:
            self._gate.throttle.failed(address, peer)
        self._gate.record(Attempt(now, address, account_id, "web",
                                  factor if factor in FACTORS else "unknown", peer, None,
                                  verdict.accepted, _REASONS[verdict.outcome]))
        return verdict

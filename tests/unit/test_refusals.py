"""The one refusal table renders SPEC §5's wording for every reason, in every protocol."""

from __future__ import annotations

import pytest

from mailgate.policy.decision import Decision
from mailgate.protocols import refusals
from mailgate.protocols.refusals import Refusal

REASONS = ["account_compromised", "account_deactivating", "account_deactivated",
           "services_not_activated", "department_policy", "account_setting",
           "temporary_grant", "plan_default", "network_not_allowed", "modern_auth_required"]


def _decision(reason: str) -> Decision:
    return Decision("pop", False, reason,
                    "POP is turned off for this account by the policy of department\n"
                    "Physics. Contact the help desk.", "department")


@pytest.mark.parametrize("reason", REASONS)
def test_closed_door_wording_in_every_protocol(reason: str) -> None:
    refusal = Refusal("door", _decision(reason))
    title = "ModernAuthRequired" if reason == "modern_auth_required" else "ProtocolDisabled"
    sentence = ("POP is turned off for this account by the policy of department Physics. "
                "Contact the help desk.")
    assert refusals.imap(refusal) == f"NO [CONTACTADMIN] {title}: {sentence}"
    assert refusals.pop3(refusal) == f"-ERR [SYS/PERM] {title}: {sentence}"
    assert refusals.smtp(refusal) == f"535 5.7.139 {title}: {sentence}"
    status, body = refusals.http_problem(refusal)
    assert status == 403
    assert body["title"] == title and body["reason"] == reason
    assert body["protocol"] == "pop" and body["detail"] == sentence
    assert refusals.imap_bye(refusal.decision).startswith("* BYE [CONTACTADMIN] ")
    assert refusals.smtp_closed(refusal.decision).startswith("421 4.7.0 ")


def test_bad_credentials_and_missing_tls_wording() -> None:
    bad, privacy = Refusal("credentials"), Refusal("privacy")
    assert refusals.imap(bad).startswith("NO [AUTHENTICATIONFAILED] ")
    assert refusals.pop3(bad).startswith("-ERR [AUTH] ")
    assert refusals.smtp(bad).startswith("535 5.7.8 ")
    assert refusals.http_problem(bad)[0] == 401
    assert refusals.imap(privacy).startswith("NO [PRIVACYREQUIRED]")
    assert refusals.pop3(privacy).startswith("-ERR [AUTH]")
    assert refusals.smtp(privacy).startswith("538 5.7.11")


def test_no_pop3_refusal_text_contains_the_letters_fetchmail_reads_as_a_mailbox_lock() -> None:
    texts = [refusals.pop3(Refusal("credentials")), refusals.pop3(Refusal("privacy"))]
    texts += [refusals.pop3(Refusal("door", _decision(r))) for r in REASONS]
    assert not [t for t in texts if "lock" in t.lower()]


def test_a_department_name_with_those_letters_is_defused_in_pop3_only() -> None:
    decision = Decision("pop", False, "department_policy",
                        "POP is turned off for this account by the policy of department "
                        "Blockchain Lab. Contact the help desk.", "department")
    line = refusals.pop3(Refusal("door", decision))
    assert "lock" not in line.lower() and "Bl-ockchain Lab" in line
    assert "Blockchain Lab" in refusals.imap(Refusal("door", decision))


def test_a_session_ended_by_a_password_change_is_not_told_its_door_closed() -> None:
    decision = Decision("imap", False, "password_changed",
                        "The password of this account was changed, which ends this IMAP "
                        "session; sign in again with the new password.", "credential")
    assert refusals.imap_bye(decision) == (
        "* BYE [CONTACTADMIN] PasswordChanged: The password of this account was changed, "
        "which ends this IMAP session; sign in again with the new password.")


def test_a_session_ended_by_signing_out_everywhere_says_so() -> None:
    decision = Decision("pop", False, "signed_out", "You signed out everywhere, which ends "
                        "this POP session; sign in again.", "credential")
    assert refusals.imap_bye(Decision("imap", False, "signed_out", "x", "credential")) \
        .startswith("* BYE [CONTACTADMIN] SignedOut: ")
    line = refusals.pop3(Refusal("door", decision))
    assert "SignedOut" in line and "lock" not in line.lower()

"""The RCPT verdicts an SMTP listener keeps for a second (`recipients.KnownRecipients`): only
`Local` ones, for one second, and never more than MOST addresses."""

from __future__ import annotations

from mailgate.protocols.smtp.recipients import KnownRecipients, Local, Remote, Unknown

ALICE = Local("alice+news@example.test", 7, "alice@example.test")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_local_verdict_is_kept_for_one_second() -> None:
    clock = Clock()
    known = KnownRecipients(clock)
    assert known.get(ALICE.address) is None
    known.keep(ALICE)
    clock.now += KnownRecipients.TTL - 0.01
    assert known.get(ALICE.address) == ALICE
    assert known.get("alice@example.test") is None  # the address as the envelope named it
    clock.now += 0.01
    assert known.get(ALICE.address) is None


def test_refusals_are_never_kept() -> None:
    """A mailbox created a moment ago must not be refused from memory."""
    known = KnownRecipients(Clock())
    known.keep(Unknown())
    known.keep(Remote("elsewhere.example"))
    assert known._found == {}


def test_the_memory_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(KnownRecipients, "MOST", 3)
    known = KnownRecipients(Clock())
    for n in range(3):
        known.keep(Local(f"u{n}@example.test", n, f"u{n}@example.test"))
    known.keep(ALICE)
    assert list(known._found) == [ALICE.address]

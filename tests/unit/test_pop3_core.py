"""The sans-IO POP3 core: every command in every state, pipelining, limits, refusals."""

from __future__ import annotations

import ast
import base64
import ipaddress
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mailgate.auth.sasl
import mailgate.protocols.pop3
from mailgate.policy.decision import Decision, PolicyView, Setting, decide
from mailgate.protocols import refusals
from mailgate.protocols.pop3 import replies
from mailgate.protocols.pop3.backend import MaildropEntry, Principal
from mailgate.protocols.pop3.core import DEFAULT_LIMITS, Limits, Pop3Core, State
from mailgate.protocols.pop3.events import (
    Authenticate,
    Close,
    CommitDeletes,
    Event,
    LoadMessage,
    NeedData,
    OpenMaildrop,
    StartTLS,
)
from mailgate.protocols.pop3.lines import TOO_LONG, LineBuffer
from mailgate.protocols.pop3.wire import multiline_body
from mailgate.protocols.refusals import Refusal

ALICE = Principal(7, "alice@example.org", "password")
MESSAGES: dict[int, bytes] = {
    101: b"Subject: one\r\nFrom: a@example.org\r\n\r\nfirst line\r\n.dotted\r\nlast\r\n",
    102: b"Subject: two\r\n\r\nbare\nline feeds\n",
    103: b"Subject: three\r\n\r\n.\r\nno final newline",
}
ENTRIES = [MaildropEntry(mid, f"uid-{mid}", len(body)) for mid, body in MESSAGES.items()]
TOTAL = sum(entry.size for entry in ENTRIES)
DOOR_CLOSED = Decision(
    "pop",
    False,
    "department_policy",
    "POP is turned off for this account by the policy of department Physics. "
    "Contact the help desk.",
    "department",
    True,
)
GREETING = b"+OK mailgate POP3 ready\r\n"
SIGNED_IN = f"+OK signed in: 3 messages ({TOTAL} octets)"
CREDENTIALS = refusals.pop3(Refusal("credentials"))
PRIVACY = refusals.pop3(Refusal("privacy"))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def plain(authzid: str, authcid: str, password: str) -> str:
    """A SASL PLAIN response."""
    return b64(f"{authzid}\0{authcid}\0{password}".encode())


class Driver:
    """Drives a core like the listener does, answering with a scripted backend."""

    def __init__(
        self,
        *,
        tls_available: bool = True,
        tls_active: bool = False,
        loopback: bool = True,
        limits: Limits = DEFAULT_LIMITS,
        in_use: bool = False,
        door: Decision | None = None,
    ) -> None:
        self.core = Pop3Core(
            tls_available=tls_available, tls_active=tls_active, loopback=loopback, limits=limits
        )
        self.in_use = in_use
        self.door = door
        self.events: list[Event] = []
        self.closed = False
        self.output = b"".join(self.core.data_to_send())

    def feed(self, data: bytes) -> bytes:
        """Feed bytes, run the core until it needs more; the bytes it sent meanwhile."""
        before = len(self.output)
        self.core.receive_data(data)
        while not self.closed:
            event = self.core.next_event()
            self.output += b"".join(self.core.data_to_send())
            if isinstance(event, NeedData):
                break
            self.events.append(event)
            if isinstance(event, Close):
                self.closed = True
            else:
                self._answer(event)
        return self.output[before:]

    def send(self, *lines: str) -> list[str]:
        """Send command lines (CRLF added); the response lines."""
        data = "".join(f"{line}\r\n" for line in lines).encode()
        return self.feed(data).decode().split("\r\n")[:-1]

    def sign_in(self) -> None:
        assert self.send("USER alice", "PASS secret")[-1] == SIGNED_IN
        assert self.core.state is State.TRANSACTION

    def _answer(self, event: Event) -> None:
        core = self.core
        if isinstance(event, Authenticate):
            if (event.username, event.secret) != ("alice", "secret"):
                core.authenticated(Refusal("credentials"))
            elif self.door is not None:
                core.authenticated(Refusal("door", self.door))
            else:
                core.authenticated(ALICE)
        elif isinstance(event, OpenMaildrop):
            core.maildrop_opened(None if self.in_use else ENTRIES)
        elif isinstance(event, LoadMessage):
            core.message_loaded(MESSAGES[event.message_id])
        elif isinstance(event, CommitDeletes):
            core.deletes_committed()
        # StartTLS: the tests call core.tls_started() themselves.


def signed_in() -> Driver:
    driver = Driver()
    driver.sign_in()
    return driver


def commands(driver: Driver) -> list[Event]:
    return [e for e in driver.events if not isinstance(e, Close)]


AUTHORIZATION_ONLY = ["USER alice", "PASS secret", "AUTH PLAIN", "STLS"]
TRANSACTION_ONLY = [
    "STAT",
    "LIST",
    "LIST 1",
    "RETR 1",
    "DELE 1",
    "NOOP",
    "RSET",
    "TOP 1 0",
    "UIDL",
    "UIDL 1",
]


# -- greeting and AUTHORIZATION --------------------------------------------------------------


def test_greeting_is_sent_first() -> None:
    assert Driver().output == GREETING


def test_user_then_pass_signs_in_and_opens_the_maildrop() -> None:
    driver = Driver()
    assert driver.send("USER alice") == ["+OK send PASS"]
    assert driver.send("PASS secret") == [SIGNED_IN]
    assert commands(driver) == [Authenticate("USER", "alice", "secret"), OpenMaildrop(ALICE)]
    assert driver.core.principal == ALICE


def test_user_accepts_any_name_so_accounts_cannot_be_enumerated() -> None:
    assert Driver().send("USER nobody-at-all@example.org") == ["+OK send PASS"]


def test_wrong_password_and_unknown_account_get_the_same_answer() -> None:
    wrong = Driver().send("USER alice", "PASS nope")[-1]
    unknown = Driver().send("USER ghost", "PASS secret")[-1]
    assert wrong == unknown == CREDENTIALS == "-ERR [AUTH] " + refusals.BAD_CREDENTIALS


def test_failed_sign_in_forgets_the_user_name() -> None:
    driver = Driver()
    driver.send("USER alice", "PASS nope")
    assert driver.send("PASS secret") == [replies.USER_FIRST]
    assert driver.core.state is State.AUTHORIZATION


def test_pass_keeps_spaces_in_the_password() -> None:
    driver = Driver()
    driver.send("USER bob", "PASS  two words ")
    assert commands(driver) == [Authenticate("USER", "bob", " two words ")]


def test_pass_without_user_is_refused() -> None:
    assert Driver().send("PASS secret") == [replies.USER_FIRST]


@pytest.mark.parametrize(
    ("line", "command"), [("USER", "USER"), ("USER   ", "USER"), ("PASS", "PASS")]
)
def test_user_and_pass_need_an_argument(line: str, command: str) -> None:
    assert Driver().send(line) == [replies.usage(command)]


def test_three_failed_sign_ins_close_the_connection() -> None:
    driver = Driver()
    driver.send("USER a", "PASS 1", "USER a", "PASS 2")
    assert not driver.closed
    assert driver.send("USER a", "PASS 3", "NOOP") == ["+OK send PASS", CREDENTIALS]
    assert driver.closed and driver.core.state is State.CLOSED


def test_failed_sign_ins_count_across_user_pass_and_auth() -> None:
    driver = Driver()
    driver.send("USER a", "PASS 1", "AUTH PLAIN " + plain("", "a", "b"))
    assert not driver.closed
    driver.send("AUTH LOGIN", b64(b"a"), b64(b"c"))
    assert driver.closed


def test_closed_door_is_refused_with_the_refusal_table_wording() -> None:
    driver = Driver(door=DOOR_CLOSED)
    response = driver.send("USER alice", "PASS secret")[-1]
    assert response == refusals.pop3(Refusal("door", DOOR_CLOSED))
    assert response.startswith("-ERR [SYS/PERM] ProtocolDisabled: POP is turned off")
    assert driver.core.state is State.AUTHORIZATION


def test_modern_auth_required_is_its_own_title() -> None:
    decision = Decision(
        "pop",
        False,
        "modern_auth_required",
        "POP does not accept password sign-in for this account.",
        "method",
    )
    response = Driver(door=decision).send("USER alice", "PASS secret")[-1]
    assert response.startswith("-ERR [SYS/PERM] ModernAuthRequired: POP does not accept")


def test_refusal_naming_the_four_letters_is_defused() -> None:
    decision = Decision(
        "pop",
        False,
        "department_policy",
        "POP is turned off by the policy of department Blockchain Lab.",
        "department",
        True,
    )
    response = Driver(door=decision).send("USER alice", "PASS secret")[-1]
    assert "lock" not in response.lower()
    assert (
        response == "-ERR [SYS/PERM] ProtocolDisabled: POP is turned off by the policy of "
        "department Bl-ockchain Lab."
    )


def test_maildrop_in_use_answers_in_use_and_stays_in_authorization() -> None:
    driver = Driver(in_use=True)
    assert (
        driver.send("USER alice", "PASS secret")[-1]
        == "-ERR [IN-USE] Mailbox is locked by another session"
    )
    assert driver.core.state is State.AUTHORIZATION and driver.core.principal is None
    driver.in_use = False
    assert driver.send("USER alice", "PASS secret")[-1] == SIGNED_IN


@pytest.mark.parametrize("line", TRANSACTION_ONLY)
def test_transaction_commands_before_sign_in_are_refused(line: str) -> None:
    driver = Driver()
    assert driver.send(line) == [replies.SIGN_IN_FIRST]
    assert driver.core.state is State.AUTHORIZATION and commands(driver) == []


def test_apop_is_not_offered() -> None:
    assert Driver().send("APOP alice 0123456789abcdef") == [replies.APOP_UNSUPPORTED]
    assert signed_in().send("APOP a b") == [replies.APOP_UNSUPPORTED]
    assert b"<" not in GREETING  # no APOP timestamp in the greeting


def test_quit_in_authorization_closes_without_update() -> None:
    driver = Driver()
    assert driver.send("QUIT") == [replies.SIGNING_OFF]
    assert driver.closed and commands(driver) == []


# -- plaintext sign-in and TLS ---------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "USER alice",
        "PASS secret",
        "AUTH PLAIN",
        "AUTH LOGIN",
        "AUTH PLAIN " + plain("", "alice", "secret"),
    ],
)
def test_plaintext_sign_in_off_loopback_without_tls_needs_privacy(line: str) -> None:
    driver = Driver(loopback=False)
    assert driver.send(line) == [PRIVACY]
    assert commands(driver) == []


def test_privacy_refusal_is_the_refusal_table_wording() -> None:
    assert PRIVACY == "-ERR [AUTH] " + refusals.PRIVACY_REQUIRED


def test_auth_listing_is_allowed_without_tls() -> None:
    assert Driver(loopback=False).send("AUTH") == [
        replies.MECHANISM_LIST, "PLAIN", "LOGIN", "OAUTHBEARER", "XOAUTH2", "."]


def test_sign_in_off_loopback_with_tls_works() -> None:
    driver = Driver(loopback=False, tls_active=True, tls_available=False)
    driver.sign_in()


def test_capa_lists_the_capabilities() -> None:
    assert Driver().send("CAPA") == [
        replies.CAPABILITIES,
        "TOP",
        "UIDL",
        "USER",
        "SASL PLAIN LOGIN OAUTHBEARER XOAUTH2",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "STLS",
        "IMPLEMENTATION mailgate",
        ".",
    ]


@pytest.mark.parametrize(("available", "active"), [(False, False), (True, True), (False, True)])
def test_capa_omits_stls_when_tls_is_unavailable_or_active(available: bool, active: bool) -> None:
    assert "STLS" not in Driver(tls_available=available, tls_active=active).send("CAPA")


def test_capa_in_transaction_lists_the_same() -> None:
    assert signed_in().send("CAPA") == Driver().send("CAPA")


def test_capa_with_an_argument_is_a_usage_error() -> None:
    assert Driver().send("CAPA x") == [replies.usage("CAPA")]


def test_stls_discards_plaintext_sent_after_it() -> None:
    driver = Driver(loopback=False)
    output = driver.feed(b"STLS\r\nUSER mallory\r\nPASS injected\r\n")
    assert output == b"+OK begin TLS negotiation\r\n"
    assert commands(driver) == [StartTLS()]
    assert driver.feed(b"PASS more\r\n") == b""  # still negotiating: dropped too
    driver.core.tls_started()
    assert driver.core.tls_active and driver.core.buffered == 0
    assert driver.send("PASS secret") == [replies.USER_FIRST]
    driver.sign_in()
    assert Authenticate("USER", "mallory", "injected") not in driver.events


def test_stls_forgets_a_user_name_given_before_it() -> None:
    driver = Driver()
    driver.send("USER alice", "STLS")
    driver.core.tls_started()
    assert driver.send("PASS secret") == [replies.USER_FIRST]


def test_after_tls_there_is_no_new_greeting_and_no_stls() -> None:
    driver = Driver()
    driver.send("STLS")
    driver.core.tls_started()
    assert driver.feed(b"") == b""
    assert "STLS" not in driver.send("CAPA")
    assert driver.send("STLS") == [replies.TLS_ACTIVE]


def test_stls_when_unavailable_or_active() -> None:
    assert Driver(tls_available=False).send("STLS") == [replies.TLS_UNAVAILABLE]
    assert Driver(tls_active=True).send("STLS") == [replies.TLS_ACTIVE]
    assert Driver().send("STLS now") == [replies.usage("STLS")]


def test_tls_started_without_stls_is_a_usage_bug() -> None:
    with pytest.raises(RuntimeError):
        Driver().core.tls_started()


# -- AUTH (RFC 5034) -----------------------------------------------------------------------


def test_auth_plain_with_initial_response() -> None:
    driver = Driver()
    assert driver.send("AUTH PLAIN " + plain("", "alice", "secret")) == [SIGNED_IN]
    assert commands(driver)[0] == Authenticate("PLAIN", "alice", "secret")


def test_auth_plain_with_a_continuation() -> None:
    driver = Driver()
    assert driver.send("AUTH PLAIN") == ["+ "]
    assert driver.send(b64(b"alice\0alice\0secret")) == [SIGNED_IN]


def test_auth_login_two_steps() -> None:
    driver = Driver()
    assert driver.send("auth login") == ["+ VXNlcm5hbWU6"]
    assert driver.send(b64(b"alice")) == ["+ UGFzc3dvcmQ6"]
    assert driver.send(b64(b"secret")) == [SIGNED_IN]
    assert commands(driver)[0] == Authenticate("LOGIN", "alice", "secret")


def test_auth_login_with_the_user_name_as_initial_response() -> None:
    driver = Driver()
    assert driver.send(f"AUTH LOGIN {b64(b'alice')}") == ["+ UGFzc3dvcmQ6"]
    assert driver.send(b64(b"secret")) == [SIGNED_IN]


def test_auth_star_cancels_and_the_session_goes_on() -> None:
    driver = Driver()
    driver.send("AUTH LOGIN")
    assert driver.send("*") == ["-ERR authentication cancelled"]
    assert driver.send("NOOP") == [replies.SIGN_IN_FIRST]  # a command again, not a response
    driver.sign_in()


def test_auth_wrong_credentials_use_the_refusal_table() -> None:
    assert Driver().send("AUTH PLAIN " + plain("", "alice", "wrong")) == [CREDENTIALS]


@pytest.mark.parametrize(
    ("lines", "reply"),
    [
        (["AUTH PLAIN !!!!"], "-ERR invalid base64 in the authentication response"),
        (["AUTH PLAIN", "not base64"], "-ERR invalid base64 in the authentication response"),
        (["AUTH PLAIN ="], "-ERR PLAIN expects authzid, authcid and password separated by NUL"),
        (
            ["AUTH PLAIN " + plain("bob", "alice", "secret")],
            "-ERR signing in as another user is not permitted",
        ),
        (["AUTH LOGIN", b64(b"\xff")], "-ERR the user name is not valid UTF-8"),
        (["AUTH CRAM-MD5"], replies.UNSUPPORTED_MECHANISM),
        (["AUTH PLAIN a b"], replies.usage("AUTH")),
    ],
)
def test_auth_errors(lines: list[str], reply: str) -> None:
    driver = Driver()
    assert driver.send(*lines)[-1] == reply
    assert driver.core.state is State.AUTHORIZATION and commands(driver) == []


def test_auth_in_transaction_is_refused() -> None:
    assert signed_in().send("AUTH") == [replies.ALREADY_SIGNED_IN]


@pytest.mark.parametrize("line", AUTHORIZATION_ONLY)
def test_authorization_commands_after_sign_in_are_refused(line: str) -> None:
    driver = signed_in()
    assert driver.send(line) == [replies.ALREADY_SIGNED_IN]
    assert driver.core.state is State.TRANSACTION


def test_auth_lines_may_carry_long_tokens() -> None:
    token = b64(b"\0alice\0" + b"s" * 3000)
    assert Driver().send(f"AUTH PLAIN {token}") == [CREDENTIALS]
    driver = Driver()
    driver.send("AUTH PLAIN")
    assert driver.send(token) == [CREDENTIALS]


# -- TRANSACTION -----------------------------------------------------------------------------


def test_stat_counts_messages_and_octets() -> None:
    assert signed_in().send("STAT") == [f"+OK 3 {TOTAL}"]


def test_list_all_and_one() -> None:
    driver = signed_in()
    sizes = [entry.size for entry in ENTRIES]
    assert driver.send("LIST") == [
        f"+OK 3 messages ({TOTAL} octets)",
        *(f"{n} {size}" for n, size in enumerate(sizes, 1)),
        ".",
    ]
    assert driver.send("LIST 2") == [f"+OK 2 {sizes[1]}"]


def test_uidl_all_and_one() -> None:
    driver = signed_in()
    assert driver.send("UIDL") == [replies.UIDL_LISTING, "1 uid-101", "2 uid-102", "3 uid-103", "."]
    assert driver.send("uidl 3") == ["+OK 3 uid-103"]


def test_retr_sends_the_dot_stuffed_message() -> None:
    driver = signed_in()
    output = driver.feed(b"RETR 1\r\n")
    assert output == (
        f"+OK {ENTRIES[0].size} octets\r\n".encode()
        + b"Subject: one\r\nFrom: a@example.org\r\n\r\nfirst line\r\n..dotted\r\n"
        b"last\r\n.\r\n"
    )
    assert commands(driver)[-1] == LoadMessage(101)


def test_retr_normalises_line_ends_and_terminates_the_last_line() -> None:
    driver = signed_in()
    assert driver.feed(b"RETR 2\r\n").endswith(b"\r\n\r\nbare\r\nline feeds\r\n.\r\n")
    assert driver.feed(b"RETR 3\r\n").endswith(b"\r\n\r\n..\r\nno final newline\r\n.\r\n")


def test_top_sends_headers_and_some_body_lines() -> None:
    driver = signed_in()
    assert driver.feed(b"TOP 1 0\r\n") == (
        b"+OK top of message follows\r\nSubject: one\r\nFrom: a@example.org\r\n\r\n.\r\n"
    )
    assert driver.feed(b"TOP 1 2\r\n").endswith(b"\r\n\r\nfirst line\r\n..dotted\r\n.\r\n")
    assert driver.feed(b"TOP 1 99999\r\n").endswith(b"..dotted\r\nlast\r\n.\r\n")


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("RETR 0", replies.NO_SUCH_MESSAGE),
        ("RETR 4", replies.NO_SUCH_MESSAGE),
        ("RETR 99999", replies.NO_SUCH_MESSAGE),
        ("RETR " + "9" * 900, replies.NO_SUCH_MESSAGE),
        ("RETR x", replies.BAD_MESSAGE_NUMBER),
        ("RETR -1", replies.BAD_MESSAGE_NUMBER),
        ("RETR +1", replies.BAD_MESSAGE_NUMBER),
        ("RETR 1.0", replies.BAD_MESSAGE_NUMBER),
        ("RETR \u0661", replies.BAD_MESSAGE_NUMBER),  # ARABIC-INDIC DIGIT ONE
        ("RETR", replies.usage("RETR")),
        ("RETR 1 2", replies.usage("RETR")),
        ("DELE 0", replies.NO_SUCH_MESSAGE),
        ("DELE x", replies.BAD_MESSAGE_NUMBER),
        ("DELE", replies.usage("DELE")),
        ("DELE 1 2", replies.usage("DELE")),
        ("LIST 0", replies.NO_SUCH_MESSAGE),
        ("LIST x", replies.BAD_MESSAGE_NUMBER),
        ("LIST 1 2", replies.usage("LIST")),
        ("UIDL 4", replies.NO_SUCH_MESSAGE),
        ("UIDL 1 2", replies.usage("UIDL")),
        ("TOP 1", replies.usage("TOP")),
        ("TOP", replies.usage("TOP")),
        ("TOP 1 2 3", replies.usage("TOP")),
        ("TOP 1 x", replies.BAD_LINE_COUNT),
        ("TOP 1 -1", replies.BAD_LINE_COUNT),
        ("TOP 9 1", replies.NO_SUCH_MESSAGE),
        ("TOP x 1", replies.BAD_MESSAGE_NUMBER),
        ("STAT 1", replies.usage("STAT")),
        ("NOOP x", replies.usage("NOOP")),
        ("RSET x", replies.usage("RSET")),
        ("QUIT now", replies.usage("QUIT")),
    ],
)
def test_bad_arguments_change_nothing(line: str, reply: str) -> None:
    driver = signed_in()
    before = len(driver.events)
    assert driver.send(line) == [reply]
    assert len(driver.events) == before
    assert driver.core.state is State.TRANSACTION
    assert driver.send("STAT") == [f"+OK 3 {TOTAL}"]


def test_trailing_spaces_after_a_command_are_tolerated() -> None:
    assert signed_in().send("STAT ", "LIST  2 ") == [f"+OK 3 {TOTAL}", f"+OK 2 {ENTRIES[1].size}"]


def test_commands_are_case_insensitive() -> None:
    driver = Driver()
    assert driver.send("user alice", "pAsS secret", "stat") == [
        "+OK send PASS",
        SIGNED_IN,
        f"+OK 3 {TOTAL}",
    ]


def test_noop() -> None:
    assert signed_in().send("NOOP") == ["+OK"]


def test_deleted_messages_are_invisible() -> None:
    driver = signed_in()
    assert driver.send("DELE 2") == ["+OK message 2 deleted"]
    rest = TOTAL - ENTRIES[1].size
    assert driver.send("STAT") == [f"+OK 2 {rest}"]
    assert driver.send("LIST") == [
        f"+OK 2 messages ({rest} octets)",
        f"1 {ENTRIES[0].size}",
        f"3 {ENTRIES[2].size}",
        ".",
    ]
    assert driver.send("UIDL") == [replies.UIDL_LISTING, "1 uid-101", "3 uid-103", "."]
    gone = "-ERR message 2 already deleted"
    assert driver.send("LIST 2", "UIDL 2", "RETR 2", "TOP 2 0", "DELE 2") == [gone] * 5
    assert LoadMessage(102) not in driver.events


def test_rset_unmarks_deleted_messages() -> None:
    driver = signed_in()
    driver.send("DELE 1", "DELE 3")
    assert driver.send("RSET") == [f"+OK maildrop has 3 messages ({TOTAL} octets)"]
    assert driver.send("STAT") == [f"+OK 3 {TOTAL}"]
    assert driver.send("QUIT") == [replies.SIGNING_OFF]
    assert not any(isinstance(event, CommitDeletes) for event in driver.events)


def test_quit_in_transaction_commits_the_deletes_then_closes() -> None:
    driver = signed_in()
    driver.send("DELE 3", "DELE 1")
    assert driver.send("QUIT", "NOOP") == [replies.SIGNING_OFF]
    assert commands(driver)[-1] == CommitDeletes((101, 103))
    assert driver.closed and driver.core.state is State.CLOSED


def test_quit_without_deletes_commits_nothing() -> None:
    driver = signed_in()
    driver.send("QUIT")
    assert driver.closed and not any(isinstance(e, CommitDeletes) for e in driver.events)


def test_update_state_while_the_commit_is_pending() -> None:
    core = Pop3Core(tls_available=False, tls_active=True, loopback=False)
    core.receive_data(b"USER alice\r\nPASS secret\r\nDELE 1\r\nQUIT\r\n")
    assert isinstance(core.next_event(), Authenticate)
    core.authenticated(ALICE)
    assert isinstance(core.next_event(), OpenMaildrop)
    core.maildrop_opened(ENTRIES)
    assert core.next_event() == CommitDeletes((101,))
    assert core.state is State.UPDATE
    with pytest.raises(RuntimeError):
        core.next_event()
    core.deletes_committed()
    assert isinstance(core.next_event(), Close)
    core.receive_data(b"NOOP\r\n")
    assert core.buffered == 0 and isinstance(core.next_event(), Close)


def test_a_connection_that_ends_without_quit_never_asks_to_delete() -> None:
    driver = signed_in()
    driver.send("DELE 1", "DELE 2")
    assert not any(isinstance(e, CommitDeletes) for e in driver.events)


def test_backend_failure_answers_sys_temp_and_closes() -> None:
    core = Pop3Core(tls_available=False, tls_active=False, loopback=True)
    core.receive_data(b"USER a\r\nPASS b\r\nNOOP\r\n")
    assert isinstance(core.next_event(), Authenticate)
    core.backend_failed()
    assert isinstance(core.next_event(), Close)
    assert b"".join(core.data_to_send()).endswith(
        b"-ERR [SYS/TEMP] temporary server problem, try again later\r\n"
    )


def test_answers_must_match_the_pending_request() -> None:
    core = Pop3Core(tls_available=False, tls_active=False, loopback=True)
    with pytest.raises(RuntimeError):
        core.authenticated(ALICE)
    core.receive_data(b"USER a\r\nPASS b\r\n")
    core.next_event()
    with pytest.raises(RuntimeError):
        core.maildrop_opened(ENTRIES)


# -- input handling ----------------------------------------------------------------------------


SESSION = (
    b"CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nLIST\r\nRETR 1\r\nTOP 3 1\r\n"
    b"DELE 2\r\nUIDL\r\nRSET\r\nDELE 3\r\nNOOP\r\nQUIT\r\n"
)


def test_pipelined_commands_are_answered_in_order() -> None:
    one_by_one = Driver()
    for line in SESSION.splitlines(keepends=True):
        one_by_one.feed(line)
    pipelined = Driver()
    pipelined.feed(SESSION)
    assert pipelined.output == one_by_one.output
    assert pipelined.events == one_by_one.events
    assert pipelined.closed


def test_partial_lines_byte_by_byte() -> None:
    driver = Driver()
    for index in range(len(SESSION)):
        driver.feed(SESSION[index : index + 1])
    expected = Driver()
    expected.feed(SESSION)
    assert driver.output == expected.output


def test_bare_lf_line_ends_work() -> None:
    crlf = Driver()
    crlf.feed(SESSION)
    lf = Driver()
    lf.feed(SESSION.replace(b"\r\n", b"\n"))
    assert lf.output == crlf.output


def test_line_too_long_is_answered_once_and_the_rest_discarded() -> None:
    driver = signed_in()
    assert driver.send("NOOP " + "x" * 2000, "STAT") == [replies.LINE_TOO_LONG, f"+OK 3 {TOTAL}"]


def test_line_limit_boundary() -> None:
    driver = Driver(limits=Limits(command_line=20))
    assert driver.send("X" * 20) == [replies.UNKNOWN_COMMAND]
    assert driver.send("X" * 21) == [replies.LINE_TOO_LONG]


def test_the_limit_of_the_line_after_an_overlong_one_ignores_the_discarded_bytes() -> None:
    limits = Limits(command_line=20, sasl_line=100)
    data = b"NOOP " + b"x" * 30 + b"AUTH xx\r\n" + b"Y" * 25
    whole, chunked = Driver(limits=limits), Driver(limits=limits)
    whole.feed(data)
    chunked.feed(data[:35])
    chunked.feed(data[35:])
    assert chunked.output == whole.output == GREETING + b"-ERR line too long\r\n" * 2


def test_an_endless_line_uses_bounded_memory() -> None:
    driver = Driver()
    for _ in range(1000):
        assert driver.core.buffered <= 1001 + 4096
        driver.feed(b"y" * 4096)
    assert driver.output.count(b"line too long") == 1
    # the next line end closes the discarded line; what follows is a command again
    assert driver.send("still the long line", "CAPA")[0] == replies.CAPABILITIES


@pytest.mark.parametrize(
    ("data", "reply"),
    [
        (b"USER \xff\xfe\r\n", replies.NOT_UTF8),
        (b"\xc3\x28\r\n", replies.NOT_UTF8),
        (b"USER a\x00b\r\n", replies.CONTROL_CHARACTERS),
        (b"NOOP\rSTAT\r\n", replies.CONTROL_CHARACTERS),
        (b"\x1b[31mSTAT\r\n", replies.CONTROL_CHARACTERS),
        (b"\r\n", replies.EMPTY_COMMAND),
        (b" STAT\r\n", replies.UNKNOWN_COMMAND),
        (b"HELO\r\n", replies.UNKNOWN_COMMAND),
        (b"GET / HTTP/1.1\r\n", replies.UNKNOWN_COMMAND),
    ],
)
def test_malformed_lines_get_a_clear_error_and_change_nothing(data: bytes, reply: str) -> None:
    driver = Driver()
    driver.send("USER alice")
    assert driver.feed(data).decode() == reply + "\r\n"
    assert driver.send("PASS secret") == [SIGNED_IN]  # the USER before still stands


def test_ten_bad_commands_in_a_row_close_the_connection() -> None:
    driver = Driver()
    driver.send(*["BOGUS"] * 9)
    assert not driver.closed
    assert driver.send("BOGUS", "CAPA") == [replies.UNKNOWN_COMMAND]
    assert driver.closed


def test_a_good_command_resets_the_bad_command_count() -> None:
    driver = signed_in()
    driver.send(*["RETR 0"] * 9, "NOOP", *["RETR x"] * 9)
    assert not driver.closed
    driver.send("LIST 99")
    assert driver.closed


def test_bad_sasl_responses_count_as_bad_commands() -> None:
    driver = Driver()
    for _ in range(10):
        driver.send("AUTH PLAIN", "!")
    assert driver.closed


# -- the four letters fetchmail reads as a mailbox-lock conflict ---------------------------


def _literals(path: Path) -> list[str]:
    """Every string constant of a module except docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_pop3_source_text_but_in_use_holds_the_four_letters() -> None:
    sources = [
        *Path(mailgate.protocols.pop3.__file__).parent.glob("*.py"),
        Path(mailgate.auth.sasl.__file__),
    ]
    found = [text for path in sources for text in _literals(path) if "lock" in text.lower()]
    assert found == [replies.IN_USE]


def _every_reply() -> list[str]:
    """Every status line a thorough set of sessions produces (message bodies excluded)."""
    lines: list[str] = []
    scripts: list[tuple[Driver, list[str]]] = [
        (
            Driver(),
            [
                "CAPA",
                "AUTH",
                "STAT",
                "APOP a b",
                "BOGUS",
                "",
                "STLS x",
                "QUIT x",
                "USER",
                "PASS",
                "PASS x",
                "USER alice",
                "PASS wrong",
                "AUTH PLAIN =",
                "AUTH X",
                "AUTH PLAIN",
                "*",
                "AUTH LOGIN",
                "!",
                "AUTH PLAIN a b",
                "STLS",
            ],
        ),
        (Driver(tls_available=False, loopback=False), ["USER a", "PASS b", "AUTH PLAIN", "STLS"]),
        (Driver(tls_active=True), ["STLS"]),
        (Driver(in_use=True), ["USER alice", "PASS secret"]),
        (
            Driver(),
            [
                "USER alice",
                "PASS secret",
                "STAT",
                "LIST",
                "LIST 1",
                "LIST 9",
                "LIST x",
                "UIDL",
                "UIDL 1",
                "UIDL 1 2",
                "RETR 1",
                "TOP 1 1",
                "TOP 1 x",
                "TOP 1",
                "DELE 1",
                "DELE 1",
                "RETR 1",
                "NOOP",
                "NOOP x",
                "RSET",
                "RSET x",
                "USER a",
                "STLS",
                "CAPA",
                "DELE 2",
                "QUIT",
            ],
        ),
    ]
    for driver, script in scripts:
        driver.send(*script)
        lines += _status_lines(driver.output)
    lines += _status_lines(Driver().feed(b"\xff\r\n\x00\r\n" + b"x" * 5000 + b"\r\n"))
    core = Pop3Core(tls_available=False, tls_active=False, loopback=True)
    core.receive_data(b"USER a\r\nPASS b\r\n")
    core.next_event()
    core.backend_failed()
    lines += _status_lines(b"".join(core.data_to_send()))
    lines += [replies.usage(command) for command in replies.USAGE]
    return lines


def _policy_decisions() -> list[Decision]:
    """Every kind of closed door the policy can produce for POP."""
    views = [
        PolicyView("a", state, "standard", {})
        for state in ("compromised", "deactivating", "deactivated", "pending")
    ] + [
        PolicyView(
            "a",
            "active",
            "standard",
            {},
            department="Physics",
            department_denials=frozenset({"pop"}),
        ),
        PolicyView("a", "active", "standard", {}),
        PolicyView("a", "active", "standard", {}, settings={"pop": Setting(False)}),
        PolicyView("a", "active", "standard", {}, settings={"pop": Setting(False, 12)}),
        PolicyView("a", "active", "standard", {}, grants={"pop": Setting(False, 3, 4e9)}),
    ]
    decisions = [decide(view, "pop", 0.0) for view in views]
    decisions.append(
        decide(
            PolicyView(
                "a", "active", "standard", {"pop": True}, methods={"pop": frozenset({"oauth"})}
            ),
            "pop",
            0.0,
            method="password",
        )
    )
    decisions.append(
        decide(
            PolicyView(
                "a",
                "active",
                "standard",
                {"pop": True},
                networks={"pop": (ipaddress.ip_network("10.0.0.0/8"),)},
            ),
            "pop",
            0.0,
            peer="192.0.2.1",
        )
    )
    assert all(not decision.allowed for decision in decisions)
    return decisions


def _status_lines(output: bytes) -> list[str]:
    """The status lines of a server's output, skipping the content of multi-line answers."""
    lines = output.decode("utf-8").split("\r\n")
    assert lines.pop() == ""
    status: list[str] = []
    in_block = False
    for line in lines:
        if in_block:
            in_block = line != "."
            continue
        status.append(line)
        in_block = bool(MULTILINE.match(line))
    assert not in_block
    return status


MULTILINE = re.compile(
    r"\+OK (capability list follows|SASL mechanisms follow|unique-id listing follows"
    r"|top of message follows|\d+ octets|\d+ messages \(\d+ octets\))$"
)


def test_every_response_text_is_free_of_the_four_letters_except_in_use() -> None:
    texts = _every_reply()
    for decision in _policy_decisions():
        texts += Driver(door=decision).send("USER alice", "PASS secret")
    assert replies.IN_USE in texts and len(texts) > 80
    offending = [t for t in texts if "lock" in t.lower() and not t.startswith("-ERR [IN-USE] ")]
    assert offending == []


# -- the wire form of messages and line splitting ----------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (b"", b""),
        (b".", b"..\r\n"),
        (b".start\r\nmid\r\n.\r\n..two\r\n", b"..start\r\nmid\r\n..\r\n...two\r\n"),
        (b"a\nb\n.c\n", b"a\r\nb\r\n..c\r\n"),
        (b"a\r\nb", b"a\r\nb\r\n"),
        (b"a\r\n\r\n", b"a\r\n\r\n"),
    ],
)
def test_multiline_body(message: bytes, expected: bytes) -> None:
    assert multiline_body(message) == expected


def test_multiline_body_does_not_copy_a_clean_message() -> None:
    message = b"Subject: x\r\n\r\n" + b"body line\r\n" * 1000
    assert multiline_body(message) is message


@pytest.mark.parametrize(
    ("message", "lines", "expected"),
    [
        (b"H: 1\r\n\r\nb1\r\nb2\r\n", 0, b"H: 1\r\n\r\n"),
        (b"H: 1\r\n\r\nb1\r\nb2\r\n", 1, b"H: 1\r\n\r\nb1\r\n"),
        (b"H: 1\r\n\r\nb1\r\nb2", 5, b"H: 1\r\n\r\nb1\r\nb2\r\n"),
        (b"H: 1\r\nH: 2\r\n", 3, b"H: 1\r\nH: 2\r\n"),
        (b"\r\nbody\r\nmore\r\n", 1, b"\r\nbody\r\n"),
        (b"H: 1\n\n.b1\nb2\n", 1, b"H: 1\r\n\r\n..b1\r\n"),
    ],
)
def test_top_body(message: bytes, lines: int, expected: bytes) -> None:
    assert multiline_body(message, lines) == expected


def test_line_buffer_cr_at_the_limit_is_not_too_long() -> None:
    buffer = LineBuffer()
    buffer.feed(b"a" * 10 + b"\r")
    assert buffer.next_line(10) is None
    buffer.feed(b"\n")
    assert buffer.next_line(10) == b"a" * 10
    buffer.feed(b"a" * 12)
    assert buffer.next_line(10) is TOO_LONG
    buffer.feed(b"aaa\nok\n")
    assert buffer.next_line(10) == b"ok"
    assert len(buffer) == 0


# -- properties ----------------------------------------------------------------------------------


TOKENS = [
    b"USER alice",
    b"PASS secret",
    b"PASS wrong",
    b"STAT",
    b"LIST",
    b"LIST 2",
    b"RETR 1",
    b"RETR 3",
    b"TOP 2 1",
    b"DELE 1",
    b"DELE 9",
    b"RSET",
    b"UIDL",
    b"UIDL 3",
    b"NOOP",
    b"CAPA",
    b"AUTH",
    b"AUTH PLAIN",
    b"AUTH LOGIN",
    b"*",
    b"=",
    b"QUIT",
    b"STLS",
    b"APOP x y",
    ("AUTH PLAIN " + plain("", "alice", "secret")).encode(),
    b64(b"alice").encode(),
    b64(b"secret").encode(),
    b"\xff\xfe",
    b"\x00",
    b"",
    b"x" * 1100,
]

scripts = (
    st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=40)), max_size=40)
    .flatmap(
        lambda parts: st.tuples(
            st.just(parts),
            st.lists(st.sampled_from([b"\r\n", b"\n"]), min_size=len(parts), max_size=len(parts)),
        )
    )
    .map(lambda pair: b"".join(part + end for part, end in zip(*pair, strict=True)))
)


def _run(chunks: list[bytes], loopback: bool) -> Driver:
    driver = Driver(loopback=loopback)
    for chunk in chunks:
        driver.feed(chunk)
    return driver


def _check_framing(output: bytes) -> None:
    assert output.endswith(b"\r\n")
    assert b"\n" not in output.replace(b"\r\n", b"")
    lines = output.split(b"\r\n")[:-1]
    in_block = False
    for line in lines:
        if in_block:
            in_block = line != b"."
            assert not line.startswith(b".") or line in (b".",) or line.startswith(b"..")
            continue
        assert line.startswith((b"+OK", b"-ERR", b"+ ")), line
        in_block = bool(MULTILINE.match(line.decode("utf-8", "replace")))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=scripts,
    cuts=st.lists(st.integers(min_value=0, max_value=4000)),
    loopback=st.booleans(),
    tail=st.binary(max_size=30),
)
def test_any_chunking_gives_the_same_well_framed_output(
    script: bytes, cuts: list[int], loopback: bool, tail: bytes
) -> None:
    data = script + tail
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    chunks = [
        data[start:end] for start, end in zip([0, *points], [*points, len(data)], strict=True)
    ]
    whole = _run([data], loopback)
    chunked = _run(chunks, loopback)
    assert chunked.output == whole.output
    assert chunked.events == whole.events
    _check_framing(whole.output)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_and_stay_framed(data: bytes) -> None:
    whole = _run([data], True)
    bytewise = _run([data[i : i + 1] for i in range(len(data))], True)
    assert bytewise.output == whole.output
    _check_framing(whole.output)

"""The IMAP command framer: lines, literals of every kind, limits, resynchronisation, chunking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.protocols.imap.framer import (
    LITERAL_MINUS_MAX,
    NEED_DATA,
    CommandFramer,
    Event,
    FramingError,
    FramingProblem,
    Limits,
    NeedContinuation,
    RawCommand,
    Received,
)

SMALL = Limits(line=64, literal=1000, command=3000)


def events(framer: CommandFramer, data: bytes = b"") -> list[Event]:
    """Feed `data`, then every event up to NEED_DATA (excluded)."""
    framer.receive_data(data)
    out: list[Event] = []
    while (event := framer.next_event()) is not NEED_DATA:
        out.append(event)
    return out


def received(*lines: bytes, literals: tuple[bytes, ...] = ()) -> Received:
    return Received(RawCommand(lines, literals))


def too_large(tag: str, size: int, kind: FramingProblem) -> FramingError:
    if kind is FramingProblem.NONSYNC_TOO_LARGE and size <= SMALL.literal:
        message = f"non-synchronizing literal over {LITERAL_MINUS_MAX} octets (LITERAL-)"
    else:
        message = f"literal too large ({size} octets)"
    return FramingError(tag, kind, message)


def test_plain_lines_come_out_one_command_each_in_order() -> None:
    framer = CommandFramer()
    assert events(framer, b"a1 NOOP\r\na2 CAPABILITY\r\na3 LOG") == [
        received(b"a1 NOOP"),
        received(b"a2 CAPABILITY"),
    ]
    assert framer.buffered == len(b"a3 LOG")
    assert events(framer, b"OUT\r\n") == [received(b"a3 LOGOUT")]
    assert framer.buffered == 0


def test_a_bare_lf_does_not_end_a_line_and_a_cr_may_end_a_chunk() -> None:
    framer = CommandFramer()
    assert events(framer, b"a1 NOOP\nstill\r") == []
    assert events(framer, b"\n") == [received(b"a1 NOOP\nstill")]


def test_a_synchronizing_literal_asks_for_a_continuation_then_completes() -> None:
    framer = CommandFramer()
    assert events(framer, b"a1 LOGIN {5}\r\n") == [NeedContinuation("a1", 5)]
    assert events(framer, b"alice {6}\r\n") == [NeedContinuation("a1", 6)]
    assert events(framer, b"secret\r\n") == [
        received(b"a1 LOGIN {5}", b" {6}", b"", literals=(b"alice", b"secret"))
    ]


def test_non_synchronizing_literals_and_literal8_need_no_continuation() -> None:
    framer = CommandFramer()
    data = b"a1 APPEND INBOX ~{4+}\r\n\x00\r\n\xff CATENATE (TEXT {0+}\r\n)\r\n"
    assert events(framer, data) == [
        received(
            b"a1 APPEND INBOX ~{4+}", b" CATENATE (TEXT {0+}", b")", literals=(b"\x00\r\n\xff", b"")
        )
    ]


def test_literal_octets_are_never_read_as_lines() -> None:
    framer = CommandFramer()
    payload = b"x\r\na2 LOGOUT\r\n}"
    data = b"a1 APPEND INBOX {%d+}\r\n%s\r\na3 NOOP\r\n" % (len(payload), payload)
    assert events(framer, data) == [
        received(b"a1 APPEND INBOX {%d+}" % len(payload), b"", literals=(payload,)),
        received(b"a3 NOOP"),
    ]


def test_a_synchronizing_literal_over_the_limit_is_refused_before_any_octet() -> None:
    framer = CommandFramer(SMALL)
    assert events(framer, b"a1 APPEND INBOX {1001}\r\n") == [
        too_large("a1", 1001, FramingProblem.LITERAL_TOO_LARGE)
    ]
    # The client got a tagged NO instead of "+": it sends no octets, its next line is a command.
    assert events(framer, b"a2 NOOP\r\n") == [received(b"a2 NOOP")]


def test_the_whole_command_counts_against_the_command_limit() -> None:
    framer = CommandFramer(SMALL)
    first = b"a1 APPEND INBOX {1000+}\r\n" + b"m" * 1000
    second = b" {1000+}\r\n" + b"n" * 1000
    assert events(framer, first + second) == []
    assert events(framer, b" {1000}\r\n") == [
        too_large("a1", 1000, FramingProblem.LITERAL_TOO_LARGE)
    ]
    assert events(framer, b"a2 NOOP\r\n") == [received(b"a2 NOOP")]


def test_a_non_synchronizing_literal_over_the_limit_is_skipped_with_the_rest_of_its_command() -> (
    None
):
    framer = CommandFramer(SMALL)
    big = b"a1 APPEND INBOX {2000+}\r\n"
    assert events(framer, big) == [too_large("a1", 2000, FramingProblem.NONSYNC_TOO_LARGE)]
    # The octets arrive anyway and are dropped as they come, never buffered.
    for _ in range(4):
        assert events(framer, b"x\r\na9 LOGOUT\r\n"[:10] * 50) == []
        assert framer.buffered == 0
    rest = b" (\\Seen) {3+}\r\nabc {1}\r\n"  # the rest of the same command, dropped too
    assert events(framer, rest) == []
    assert events(framer, b"a2 NOOP\r\n") == [received(b"a2 NOOP")]


@pytest.mark.parametrize(("size", "accepted"), [(LITERAL_MINUS_MAX, True), (4097, False)])
def test_literal_minus_limits_non_synchronizing_literals_to_4096_octets(
    size: int, accepted: bool
) -> None:
    framer = CommandFramer(Limits(literal_minus=True))
    data = b"a1 APPEND INBOX {%d+}\r\n%s\r\na2 NOOP\r\n" % (size, b"z" * size)
    out = events(framer, data)
    if accepted:
        assert out[0] == received(b"a1 APPEND INBOX {%d+}" % size, b"", literals=(b"z" * size,))
    else:
        assert out[0] == FramingError(
            "a1",
            FramingProblem.NONSYNC_TOO_LARGE,
            "non-synchronizing literal over 4096 octets (LITERAL-)",
        )
    assert out[1:] == [received(b"a2 NOOP")]
    # A synchronizing literal of the same size is fine under LITERAL-.
    assert events(framer, b"a3 APPEND INBOX {%d}\r\n" % size) == [NeedContinuation("a3", size)]


def test_an_absurd_literal_size_is_just_too_large() -> None:
    digits = b"9" * 5000  # int() would refuse to convert this many digits
    assert events(CommandFramer(), b"a1 LOGIN {%s}\r\n" % digits) == [
        FramingError(
            "a1", FramingProblem.LITERAL_TOO_LARGE, f"literal too large ({1 << 64} octets)"
        )
    ]


def test_an_overlong_line_is_reported_once_and_framing_resumes_at_its_crlf() -> None:
    framer = CommandFramer(SMALL)
    head = b"a1 SEARCH " + b"x" * 60
    assert events(framer, head) == [
        FramingError("a1", FramingProblem.LINE_TOO_LONG, "command line too long (over 64 octets)")
    ]
    assert framer.buffered == 0
    for _ in range(100):  # memory stays bounded however long the line gets
        assert events(framer, b"y" * 1000) == []
        assert framer.buffered <= 1
    assert events(framer, b"\r\na2 NOOP\r\n") == [received(b"a2 NOOP")]


def test_an_overlong_line_ending_in_a_non_synchronizing_literal_has_its_octets_skipped() -> None:
    framer = CommandFramer(SMALL)
    line = b"a1 SEARCH TEXT " + b"x" * 100 + b" {13+}\r\n"
    smuggled = b"a9 DELETE foo"  # literal data, never a command
    assert events(framer, line + smuggled + b"\r\na2 NOOP\r\n") == [
        FramingError("a1", FramingProblem.LINE_TOO_LONG, "command line too long (over 64 octets)"),
        received(b"a2 NOOP"),
    ]


def test_an_overlong_line_ending_in_a_synchronizing_literal_ends_its_command() -> None:
    framer = CommandFramer(SMALL)
    out = events(framer, b"a1 LOGIN " + b"x" * 100 + b" {5}\r\na2 NOOP\r\n")
    assert out[0].kind is FramingProblem.LINE_TOO_LONG  # type: ignore[union-attr]
    assert out[1:] == [received(b"a2 NOOP")]


def test_an_overlong_continuation_line_drops_the_whole_command() -> None:
    framer = CommandFramer(SMALL)
    out = events(framer, b"a1 LOGIN {3+}\r\nbob " + b"p" * 100 + b"\r\na2 NOOP\r\n")
    assert out == [
        FramingError("a1", FramingProblem.LINE_TOO_LONG, "command line too long (over 64 octets)"),
        received(b"a2 NOOP"),
    ]


def test_an_unreadable_tag_is_reported_as_star() -> None:
    framer = CommandFramer(SMALL)
    assert events(framer, b"x" * 70)[0].tag == "*"  # type: ignore[union-attr]


def test_new_limits_apply_from_the_next_command_on() -> None:
    framer = CommandFramer(SMALL)
    pipelined = b"a1 LOGIN {2000+}\r\n"
    assert events(framer, pipelined) == [too_large("a1", 2000, FramingProblem.NONSYNC_TOO_LARGE)]
    assert events(framer, b"x" * 2000 + b"\r\na2 NOOP\r\n") == [received(b"a2 NOOP")]
    framer.use_limits(Limits(literal=5000))  # signed in
    assert events(framer, pipelined + b"y" * 2000 + b"\r\n") == [
        received(b"a1 LOGIN {2000+}", b"", literals=(b"y" * 2000,))
    ]


def test_clear_forgets_everything_buffered_for_starttls() -> None:
    framer = CommandFramer()
    assert events(framer, b"a1 STARTTLS\r\na2 LOGIN {3}") == [received(b"a1 STARTTLS")]
    framer.clear()
    assert framer.buffered == 0
    assert events(framer, b"a3 NOOP\r\n") == [received(b"a3 NOOP")]


def test_plain_lines_read_continuation_answers_without_literal_markers() -> None:
    framer = CommandFramer()
    framer.receive_data(b"dGVzdA{5}\r\nDONE\r\n")
    assert framer.next_event(plain_line=True) == received(b"dGVzdA{5}")
    assert framer.next_event(plain_line=True) == received(b"DONE")


# -- properties ------------------------------------------------------------------------------

_pieces = st.one_of(
    st.sampled_from(
        [
            b"a1 NOOP\r\n",
            b"a2 LOGIN {5}\r\nalice {6+}\r\nsecret\r\n",
            b"a3 APPEND INBOX ~{3}\r\n\x00\r\n\r\n",
            b"a4 APPEND INBOX {2000+}\r\n" + b"q" * 2000 + b"\r\n",
            b"a5 APPEND INBOX {2000}\r\n",
            b"a6 SEARCH " + b"w" * 90 + b" {4+}\r\nabcd\r\n",
            b"a7 X {0}\r\n\r\n",
            b"\r\n",
        ]
    ),
    st.binary(max_size=80),
)


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=300, deadline=None)
@given(st.lists(_pieces, max_size=12), st.lists(st.integers(min_value=0), max_size=30))
def test_how_the_bytes_are_chunked_never_changes_the_events(
    pieces: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(pieces)
    whole = events(CommandFramer(SMALL), data)
    framer = CommandFramer(SMALL)
    chunked: list[Event] = []
    for chunk in _chunked(data, cuts):
        chunked += events(framer, chunk)
    assert chunked == whole


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000), st.booleans())
def test_random_bytes_only_ever_give_framing_events(data: bytes, literal_minus: bool) -> None:
    limits = Limits(line=50, literal=200, command=600, literal_minus=literal_minus)
    framer = CommandFramer(limits)
    for event in events(framer, data):
        assert isinstance(event, Received | NeedContinuation | FramingError)
        if isinstance(event, Received):
            command = event.command
            assert len(command.lines) == len(command.literals) + 1
            assert all(len(line) <= limits.line for line in command.lines)
            assert all(len(literal) <= limits.literal for literal in command.literals)
    assert framer.buffered <= limits.line + 2

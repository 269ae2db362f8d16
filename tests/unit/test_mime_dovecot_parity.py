"""mailgate's MIME answers against Debian's Dovecot (2.3.19), on small hand-made messages.

Every expected value is what Dovecot answered for the same message (FETCH ENVELOPE,
BODYSTRUCTURE and BODY[section], compared with ``bench/mime_vs_dovecot.py --corpus DIR``),
except where a test says ``quirk``: there mailgate answers differently on purpose, and
docs/mime-vs-dovecot.md gives both answers and the RFC clause. The tests need neither
Dovecot nor ../shared.
"""

from mailgate.mime import ParsedMessage, parse, section_range, to_crlf

TEXT_PLAIN = '"text" "plain" ("charset" "us-ascii") NIL NIL "7bit"'
NO_EXTENSION = "NIL NIL NIL NIL"


def message(text: str) -> tuple[bytes, ParsedMessage]:
    raw = to_crlf(text.encode("latin-1"))
    return raw, parse(raw)


def section(raw: bytes, parsed: ParsedMessage, spec: str) -> bytes:
    found = section_range(parsed, spec)
    assert found is not None, spec
    return raw[found[0] : found[1]]


def envelope_of(headers: str) -> str:
    return message(headers + "\nbody\n")[1].envelope


# ------------------------------------------------------------------------------ boundaries

def test_a_boundary_may_end_in_dashes() -> None:
    # "--b--" is a delimiter of the boundary "b--" and "--b----" its close-delimiter
    raw, parsed = message(
        'Content-Type: multipart/mixed; boundary="b--"\n\n--b--\n\none\n--b--\n\ntwo\n--b----\n'
    )
    assert parsed.bodystructure == (
        f"(({TEXT_PLAIN} 3 0 {NO_EXTENSION})({TEXT_PLAIN} 3 0 {NO_EXTENSION})"
        ' "mixed" ("boundary" "b--") NIL NIL NIL)'
    )
    assert section(raw, parsed, "1") == b"one"
    assert section(raw, parsed, "2") == b"two"


def test_the_longest_boundary_on_the_line_wins_over_a_shorter_close_delimiter() -> None:
    # "--a--" starts with the inner boundary "a-": a delimiter of the inner multipart
    raw, parsed = message(
        'Content-Type: multipart/mixed; boundary="a"\n\n--a\n'
        'Content-Type: multipart/mixed; boundary="a-"\n\n--a-\n\ninner\n--a--\n\nafter\n--a--\n'
    )
    assert parsed.body == (
        f"((({TEXT_PLAIN} 5 0)({TEXT_PLAIN} 5 0)({TEXT_PLAIN} 0 0) \"mixed\") \"mixed\")"
    )
    assert section(raw, parsed, "1.2") == b"after"


# ------------------------------------------------------------------------------ header ends

def test_an_empty_line_before_a_boundary_is_the_boundary_line_break() -> None:
    raw, parsed = message(
        "Content-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\n"
        "--b\nContent-Type: text/html\n\n\n--b--\n"
    )
    assert section(raw, parsed, "1.MIME") == b"Content-Type: text/plain\r\n"
    assert section(raw, parsed, "1") == b""
    assert section(raw, parsed, "2.MIME") == b"Content-Type: text/html\r\n\r\n"
    assert section(raw, parsed, "2") == b""
    # a header line without a colon does not change that (cpython-msg_47)
    raw, parsed = message(
        "Content-Type: multipart/mixed; boundary=foo\n\n"
        "--foo\nContent-Type: text/plain\nbar\n\n--foo--\n"
    )
    assert section(raw, parsed, "1.MIME") == b"Content-Type: text/plain\r\nbar\r\n"


def test_an_empty_line_before_an_outer_boundary() -> None:
    raw, parsed = message(
        "Content-Type: multipart/mixed; boundary=o\n\n--o\n"
        "Content-Type: multipart/mixed; boundary=i\n\n--i\nContent-Type: text/plain\n\n"
        "--o\n\nx\n--o--\n"
    )
    assert section(raw, parsed, "1.1.MIME") == b"Content-Type: text/plain\r\n"
    # quirk: Dovecot's BODY[1] also has the line break that ends with "--o" (RFC 2046 §5.1.1)
    assert section(raw, parsed, "1") == b"--i\r\nContent-Type: text/plain\r\n"


def test_a_multipart_body_may_start_with_its_own_boundary_at_once() -> None:
    # the parent uses the same boundary: the line is still the inner multipart's own
    raw, parsed = message(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
        "Content-Type: multipart/alternative; boundary=b\n\n--b\n\ninner\n--b--\n"
    )
    assert parsed.body == f'((({TEXT_PLAIN} 5 0) "alternative") "mixed")'
    assert section(raw, parsed, "1.1") == b"inner"


def test_an_encapsulated_header_ended_by_a_boundary() -> None:
    raw, parsed = message(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n"
        "Subject: inner\n\n--b--\n"
    )
    assert section(raw, parsed, "1.HEADER") == b"Subject: inner\r\n"
    assert section(raw, parsed, "1.TEXT") == b""
    # quirk: Dovecot counts the line break before "--b--" in the message/rfc822 part
    # (size 18 and BODY[1] "Subject: inner\r\n\r\n"); RFC 2046 §5.1.1 gives it to the boundary
    assert '("message" "rfc822" NIL NIL NIL "7bit" 16 ' in parsed.bodystructure
    assert section(raw, parsed, "1") == b"Subject: inner\r\n"
    # the same without the empty line (Dovecot: size 14, "Subject: cut\r\n")
    raw, parsed = message(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n"
        "Subject: cut\n--b--\n"
    )
    assert '("message" "rfc822" NIL NIL NIL "7bit" 12 ' in parsed.bodystructure
    assert section(raw, parsed, "1") == b"Subject: cut"

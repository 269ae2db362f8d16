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


# ------------------------------------------------------------------------------ ENVELOPE

def test_repeated_address_fields_are_listed_together() -> None:
    # the last Date, Subject, In-Reply-To and Message-ID count; addresses add up
    assert envelope_of(
        "Date: one\nDate: two\nSubject: s1\nSubject: s2\nMessage-ID: <m1@x>\n"
        "Message-ID: <m2@x>\nIn-Reply-To: <i1@x>\nIn-Reply-To: <i2@x>\nFrom: a@x\nFrom: b@x\n"
        "To: t1@x\nTo: t2@x, t3@x\nSender: s@x\nSender: s2@x\nBcc: g: h@x;\nBcc: k@x\n"
    ) == (
        '("two" "s2" ((NIL NIL "a" "x")(NIL NIL "b" "x")) ((NIL NIL "s" "x")(NIL NIL "s2" "x"))'
        ' ((NIL NIL "a" "x")(NIL NIL "b" "x"))'
        ' ((NIL NIL "t1" "x")(NIL NIL "t2" "x")(NIL NIL "t3" "x")) NIL'
        ' ((NIL NIL "g" NIL)(NIL NIL "h" "x")(NIL NIL NIL NIL)(NIL NIL "k" "x"))'
        ' "<i2@x>" "<m2@x>")'
    )
    assert envelope_of("From: a@x\nReply-To: r1@x\nReply-To: r2@x\n") == (
        '(NIL NIL ((NIL NIL "a" "x")) ((NIL NIL "a" "x"))'
        ' ((NIL NIL "r1" "x")(NIL NIL "r2" "x")) NIL NIL NIL NIL NIL)'
    )


def test_a_broken_angle_address_is_a_syntax_error() -> None:
    assert envelope_of(
        "From: <Undisclosed Recipients>\nTo: <Undisclosed-Recipient:@mailman.enron.com;>\n"
        "Cc: x <a@b c>, y <a b@c>\n"
    ) == (
        '(NIL NIL ((NIL NIL "Undisclosed" "SYNTAX_ERROR")) ((NIL NIL "Undisclosed"'
        ' "SYNTAX_ERROR")) ((NIL NIL "Undisclosed" "SYNTAX_ERROR"))'
        ' ((NIL NIL "Undisclosed-Recipient" "SYNTAX_ERROR")) (("x" NIL "a" "SYNTAX_ERROR"))'
        " NIL NIL NIL)"
    )


def test_parsing_stops_where_an_address_list_breaks() -> None:
    assert envelope_of(
        "From: develop!nextmime@ebony@sblab.att.com\n"
        "To: @develop:sblab!att!thumper.bellcore.com!nsb\nCc: a@b, c@d@e, f@g\n"
    ) == (
        '(NIL NIL ((NIL NIL "develop!nextmime" "ebony")) ((NIL NIL "develop!nextmime" "ebony"))'
        ' ((NIL NIL "develop!nextmime" "ebony")) ((NIL NIL "MISSING_MAILBOX" "develop"))'
        ' ((NIL NIL "a" "b")(NIL NIL "c" "d")) NIL NIL NIL)'
    )
    assert envelope_of('To: "test" <test@test.com>,\n\tG10:08:28.617=3C/pr?=\n\tH10:08\n') == (
        '(NIL NIL NIL NIL NIL (("test" NIL "test" "test.com")(NIL NIL "G10" NIL)'
        '(NIL NIL "08" "MISSING_DOMAIN")(NIL NIL NIL NIL)) NIL NIL NIL NIL)'
    )


def test_address_list_edge_cases() -> None:
    assert envelope_of(
        "From: user\nSender: Just Words\nReply-To: <>\n"
        'To: <@a.example,@b.example:joe@c.example>, "quoted local"@x.example, , joe@[10.0.0.1]\n'
        "Cc: =?utf-8?q?J=C3=B6rg?= <j@x.example>, group: ;\n"
        'Bcc: a@b (Real Name), (c1) c@d (c2), e@f junk words, "q" junk <g@h>\n'
    ) == (
        '(NIL NIL ((NIL NIL "user" "MISSING_DOMAIN")) (("Just Words" NIL "MISSING_MAILBOX"'
        ' "MISSING_DOMAIN")) ((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))'
        ' ((NIL "@a.example,@b.example" "joe" "c.example")(NIL NIL "quoted local" "x.example")'
        '(NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN")(NIL NIL "joe" "[10.0.0.1]"))'
        ' (("=?utf-8?q?J=C3=B6rg?=" NIL "j" "x.example")(NIL NIL "group" NIL)(NIL NIL NIL NIL))'
        ' (("Real Name" NIL "a" "b")("c2" NIL "c" "d")(NIL NIL "e" "f")) NIL NIL)'
    )
    dotted = '((NIL NIL "a." "b")(NIL NIL ".a" "b")(NIL NIL "a..b" "c")("a" NIL ' \
        '"MISSING_MAILBOX" "MISSING_DOMAIN"))'
    assert envelope_of(
        'From: a.@b, .a@b, a..b@c, "a"."b"@c, a . b @ c . d\n'
        "To: <a@b>junk, <@route:a@b>, <@r1,@r2:a@b>, <@bad a@b>\n"
        "Cc: g1: a@b, c@d; , g2:; , g3: x@y\n"
        'Bcc: Name <a@b> (comment), <a@b> (c), "" <a@b>, a@b c@d\n'
    ) == (
        f"(NIL NIL {dotted} {dotted} {dotted}"
        ' ((NIL NIL "a" "b")) ((NIL NIL "g1" NIL)(NIL NIL "a" "b")(NIL NIL "c" "d")'
        '(NIL NIL NIL NIL)(NIL NIL "g2" NIL)(NIL NIL NIL NIL)(NIL NIL "g3" NIL)'
        '(NIL NIL "x" "y")(NIL NIL NIL NIL)) (("Name" NIL "a" "b")(NIL NIL "a" "b")'
        '(NIL NIL "a" "b")(NIL NIL "a" "b")) NIL NIL)'
    )
    missing = '((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))'
    assert envelope_of(
        'From: "unterminated <a@b>\nTo: (only a comment)\nCc: a@b (unterminated comment\n'
        "Bcc: x@[1.2.3.4, y@z\nReply-To: a@b, , ,c@d,\nSender: ;\n"
    ) == (
        f"(NIL NIL {missing} {missing}"
        ' ((NIL NIL "a" "b")(NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN")'
        '(NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN")(NIL NIL "c" "d")) NIL'
        ' ((NIL NIL "a" "MISSING_DOMAIN")) ((NIL NIL "x" "MISSING_DOMAIN")) NIL NIL)'
    )
    # no empty atom in a domain, no dot at its end; trailing whitespace counts as in Dovecot
    assert envelope_of("From: @b.c.\nSender: x y., .. \nReply-To: @d..)>@..a(c d)\nTo: .\t\n") == (
        f'(NIL NIL {missing} (("x y." NIL "MISSING_MAILBOX" "MISSING_DOMAIN")'
        f'(NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN")) {missing} {missing} NIL NIL NIL NIL)'
    )


def test_trailing_whitespace_of_envelope_strings() -> None:
    # quirk: Dovecot keeps it ("Wed, 11 Feb 98 11:51 CST ", "<m@x> "); RFC 5322 §3.3 and
    # §3.6.4 make it CFWS around the date-time and the msg-id, not part of them
    assert envelope_of(
        "Date: Wed, 11 Feb 98 11:51 CST \nSubject:  s  \nMessage-ID: <m@x> \n"
        "In-Reply-To: <i@x>\t\n"
    ) == '("Wed, 11 Feb 98 11:51 CST" "s" NIL NIL NIL NIL NIL NIL "<i@x>" "<m@x>")'


# ------------------------------------------------------------------------------ Content-Type

def test_an_invalid_content_type_counts_as_none() -> None:
    # quirk: RFC 2045 §5.2 recommends the default (text/plain; charset=us-ascii) for a
    # syntactically invalid Content-Type; Dovecot reports the media type "" "" (a lone
    # type without parameters: that type and "")
    for value in ("text", "text/", "text/plain charset=utf-8", "application-x-gzip",
                  "BINARY;name=x"):
        _, parsed = message(f"MIME-Version: 1.0\nContent-Type: {value}\n\nbody\n")
        assert parsed.body == f"({TEXT_PLAIN} 6 1)", value
    # a multipart whose parameters do not follow a ";" is not a multipart
    raw, parsed = message(
        'MIME-Version: 1.0\nContent-Type: multipart/mixed\n\tboundary="b"\n\n--b\n\none\n--b--\n'
    )
    assert parsed.body == f"({TEXT_PLAIN} 19 4)"
    assert section(raw, parsed, "1") == b"--b\r\n\r\none\r\n--b--\r\n"
    # inside a digest the default is message/rfc822 (RFC 2046 §5.1.5)
    _, parsed = message(
        "MIME-Version: 1.0\nContent-Type: multipart/digest; boundary=b\n\n"
        "--b\nContent-Type: text\n\nSubject: s\n\nx\n--b--\n"
    )
    assert parsed.body.startswith('(("message" "rfc822" NIL NIL NIL "7bit" 15 (NIL "s" ')


def test_a_broken_parameter_does_not_hide_the_ones_after_it() -> None:
    # quirk: Dovecot drops every parameter from the broken one on (charset us-ascii,
    # and a multipart without its boundary, whose parts cannot be reached)
    _, parsed = message("MIME-Version: 1.0\nContent-Type: text/plain; foo; charset=utf-8\n\nbody\n")
    assert parsed.body == '("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 6 1)'
    raw, parsed = message(
        "MIME-Version: 1.0\nContent-Type: multipart/mixed;; boundary=b\n\n--b\n\none\n--b--\n"
    )
    assert section(raw, parsed, "1") == b"one"

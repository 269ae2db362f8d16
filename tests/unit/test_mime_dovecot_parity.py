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

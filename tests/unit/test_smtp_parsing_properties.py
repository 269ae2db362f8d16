"""Hypothesis: the parsing written for the SMTP doors (envelope addresses, From: checks,
trace headers, Authentication-Results, BDAT, DSN parameters) holds its properties for any
input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import smtp_properties as props

HEADERISH = st.lists(st.sampled_from([
    b"From: ", b"From:", b"authentication-results: ", b"Authentication-Results:",
    b"mx.example.test", b"MX.EXAMPLE.TEST", b"(c)", b"\"", b";", b" ", b"\t", b"\r\n", b"\n",
    b"\r", b"@", b"<", b">", b",", b"owner@example.test", b"x@y.example", b"\xff", b"=?utf-8?",
    b"\x00", b":"]), max_size=40).map(b"".join)


@settings(max_examples=300)
@given(st.text(max_size=400), st.booleans())
def test_any_envelope_address(address: str, smtputf8: bool) -> None:
    props.check_address(address, smtputf8)


@settings(max_examples=300)
@given(st.one_of(HEADERISH, st.binary(max_size=600)))
def test_any_message_headers(content: bytes) -> None:
    props.check_message(content)


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=200), HEADERISH.map(lambda b: b.decode("latin-1"))))
def test_any_authentication_results_text(text: str) -> None:
    props.check_auth_text(text)


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=40), st.from_regex(r"\A ?\d{0,20}( +[lL][aA]st\w?)? ?\Z")),
       st.one_of(HEADERISH, st.binary(max_size=600)))
def test_any_bdat_argument_and_chunked_content(argument: str, content: bytes) -> None:
    props.check_bdat(argument, content)


def test_surrogates_never_reach_a_header() -> None:
    props.check_address("a\udcff@example.test", True)


DSNISH = st.lists(st.sampled_from([
    "RET=", "ret=", "FULL", "HDRS", "ENVID=", "NOTIFY=", "notify=", "NEVER", "SUCCESS",
    "FAILURE", "DELAY", ",", "ORCPT=", "rfc822", ";", "+2B", "+", "=", " ", "SIZE=10", "a",
    "\u00e9", "\x00"]), max_size=20).map("".join)


@settings(max_examples=300)
@given(st.one_of(DSNISH, st.text(max_size=200)))
def test_any_dsn_parameters(params: str) -> None:
    props.check_dsn(params)

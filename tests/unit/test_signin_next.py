"""`next` after sign-in leads only back to a page of this server that sends people to sign
in: never to another site, a scheme-relative URL, or a path trick."""

from __future__ import annotations

import pytest

from mailgate.http.signin import DEFAULT_NEXT, safe_next


@pytest.mark.parametrize("value", [
    "/device", "/oauth/authorize?client_id=x&state=y", "/mail", "/mail/INBOX/7",
    "/account/doors", "/console/accounts?q=ann",
])
def test_pages_that_ask_for_sign_in_are_kept(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize("value", [
    "", "https://evil.example/mail", "//evil.example/mail", "/\\evil.example", "/mailbox",
    "/mail/../admin", "/mail//evil.example", "/metrics", "javascript:alert(1)",
    "/devices", "/mail/" + "x" * 9000,
])
def test_anything_else_goes_to_the_default(value: str) -> None:
    assert safe_next(value) == DEFAULT_NEXT

"""Messages made fit to show in the webmail: sanitised HTML, blocked remote images, safe
attachment names, readable quotes."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from mailgate.http.webmail import message_view
from mailgate.http.webmail.reading import content_disposition


def html_message(markup: str) -> bytes:
    message = EmailMessage()
    message["From"], message["Subject"] = "A <a@example.org>", "=?utf-8?q?Gr=C3=BC=C3=9Fe?="
    message.set_content("plain part")
    message.add_alternative(markup, subtype="html")
    return message.as_bytes()


@pytest.mark.parametrize("markup", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
    "<a href='javascript:alert(1)'>x</a>", "<iframe src='https://e.org'></iframe>",
    "<svg onload=alert(1)>", "<form action='https://e.org'><input name=p></form>",
    "<style>body{background:url(https://e.org/t)}</style>",
    "<p style='background:url(https://e.org/t)'>x</p>", "<math><mi xlink:href='javascript:1'>",
    "<object data='https://e.org/x'></object>", "<base href='https://e.org/'>",
    "<meta http-equiv=refresh content='0;url=https://e.org'>"])
def test_nothing_active_or_remote_survives(markup: str) -> None:
    shown = message_view.show(html_message(f"<p>hello</p>{markup}"))
    assert shown.html is not None and "hello" in shown.html
    lowered = shown.html.lower()
    for bad in ("<script", "onerror", "onload", "javascript:", "<iframe", "<form", "<style",
                "style=", "e.org", "<object", "<base", "<meta", "<svg"):
        assert bad not in lowered, (markup, shown.html)


def test_remote_images_are_dropped_until_asked_and_links_get_noopener() -> None:
    markup = "<p><img src='https://t.example/p.gif' alt='p'><a href='https://e.org'>l</a></p>"
    blocked = message_view.show(html_message(markup))
    assert blocked.blocked_images == 1 and "src=" not in blocked.html  # type: ignore[operator]
    assert 'rel="noopener noreferrer nofollow"' in blocked.html  # type: ignore[operator]
    shown = message_view.show(html_message(markup), images=True)
    assert 'src="https://t.example/p.gif"' in shown.html  # type: ignore[operator]
    assert shown.subject == "Grüße" and shown.text.strip() == "plain part"


@pytest.mark.parametrize(("name", "safe"), [
    ("../../etc/passwd", "passwd"), ("..\\..\\boot.ini", "boot.ini"), ("", "attachment"),
    ("..", "attachment"), ('a"b.txt', "a_b.txt"), ("x\r\nSet-Cookie: y", "x_Set-Cookie_ y"),
    ("<img src=x>.html", "img src=x_.html"), ("é" * 300, "é" * 150)])
def test_attachment_names_lose_paths_quotes_and_controls(name: str, safe: str) -> None:
    assert message_view.safe_filename(name) == safe


def test_content_disposition_is_an_attachment_with_both_name_forms() -> None:
    assert content_disposition("Résumé 1.pdf") == (
        "attachment; filename=\"R_sum_ 1.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%201.pdf")


def test_an_html_only_message_quotes_as_text() -> None:
    message = EmailMessage()
    message["From"] = "a@example.org"
    message.set_content("<p>One &amp; two</p><p>three<br>four</p>", subtype="html")
    shown = message_view.show(message.as_bytes())
    assert [line for line in shown.text.splitlines() if line] == ["One & two", "three",
                                                                  "four"]


def test_only_remote_images_count_as_blocked() -> None:
    shown = message_view.show(html_message(
        "<img src='cid:logo@x'><img src='data:image/png;base64,AAAA'><img src='//t.example/p'>"
        "<img src='HTTP://t.example/q'>"))
    assert shown.blocked_images == 2 and "src=" not in shown.html  # type: ignore[operator]

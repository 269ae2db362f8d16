"""Helpers of the webmail tests: a module's server, accounts, messages, and signing in with
a browser page or with `requests`."""

from __future__ import annotations

import imaplib
import re
from email.message import EmailMessage

import requests
from live_server import RunningServer

PASSWORD = "correct-horse-battery"
DOMAIN = "example.test"


def base(live: RunningServer) -> str:
    return f"http://127.0.0.1:{live.ports['http']}"


def account(live: RunningServer, name: str, *extra: str) -> str:
    address = f"{name}@{DOMAIN}"
    live.account(address, PASSWORD, *extra)
    return address


def plain(sender: str, to: str, subject: str, body: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Message-ID"] = f"<{abs(hash((sender, to, subject, body)))}@{DOMAIN}>"
    message.set_content(body)
    return message.as_bytes()


def sign_in(page, live: RunningServer, address: str, path: str = "/mail") -> None:  # type: ignore[no-untyped-def]
    page.goto(base(live) + path)
    assert "/signin" in page.url
    page.fill("#address", address)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(base(live) + path)))


def http_session(live: RunningServer, address: str) -> requests.Session:
    """A `requests` session signed in to the webmail."""
    session = requests.Session()
    page = session.get(base(live) + "/signin?next=/mail", timeout=10)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    answer = session.post(base(live) + "/signin", data={
        "csrf": token[1], "next": "/mail", "address": address, "password": PASSWORD},
        timeout=10, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    return session


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found[1]


def imap(live: RunningServer, address: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", live.ports["imap"], timeout=10)
    client.login(address, PASSWORD)
    return client


def subjects(live: RunningServer, address: str, folder: str = "INBOX") -> list[str]:
    client = imap(live, address)
    try:
        client.select(f'"{folder}"', readonly=True)
        _, data = client.search(None, "ALL")
        found = []
        for number in data[0].split():
            _, parts = client.fetch(number, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            found.append(parts[0][1].decode().partition(":")[2].strip())
        return found
    finally:
        client.logout()

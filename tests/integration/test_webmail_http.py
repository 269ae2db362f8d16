"""The webmail's answers to hostile or odd requests, with `requests` against a real
`mailgate serve`: CSRF, forged cookies, other accounts' message ids, oversize uploads,
the refusal as problem+json, safe downloads, the security headers, search and paging."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
import requests
from live_server import RunningServer, start_server
from webmail_client import account, base, csrf_of, http_session, imap, plain, subjects

MAX_MESSAGE = 300_000


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("webmail-http") / "data", ("imap", "http"),
                           extra_env={"MAILGATE_STORAGE_MAX_MESSAGE_BYTES": str(MAX_MESSAGE)})
    yield running
    running.stop_cleanly()


def first_id(html: str) -> int:
    found = re.search(r'href="/mail/m/(\d+)"', html)
    assert found is not None
    return int(found[1])


def test_every_page_has_a_strict_policy_and_loads_only_this_servers_files(
        live: RunningServer) -> None:
    ivy = account(live, "ivy")
    session = http_session(live, ivy)
    page = session.get(base(live) + "/mail", timeout=10)
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self';" in policy
    assert "connect-src 'self';" in policy and "unsafe" not in policy
    assert "img-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    assert re.findall(r"<script[^>]*>", page.text) == [
        '<script src="/static/htmx.min.js" defer>', '<script src="/static/webmail.js" defer>']
    for path, kind in (("/mail/static/webmail.css", "text/css"),
                       ("/static/htmx.min.js", "text/javascript"),
                       ("/static/webmail.js", "text/javascript"),
                       ("/static/favicon.svg", "image/svg+xml")):
        answer = session.get(base(live) + path, timeout=10)
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(kind)


def test_htmx_is_sent_to_a_page_of_its_own_when_the_door_or_session_stops_it(
        live: RunningServer) -> None:
    """A swapped-in sign-in page or refusal would sit in the webmail's frame: htmx is told to
    load the page it asked for as a whole, and the door then answers as it does to a page."""
    answer = requests.get(base(live) + "/mail?f=Sent", headers={"HX-Request": "true"},
                          timeout=10, allow_redirects=False)
    assert answer.status_code == 204 and answer.headers["HX-Redirect"] == "/mail?f=Sent"
    live.cli("department", "create", "Htmx")
    una = account(live, "una", "--department", "Htmx")
    session = http_session(live, una)
    live.cli("department", "policy", "Htmx", "web", "deny")
    answer = session.get(base(live) + "/mail", headers={"HX-Request": "true"}, timeout=10)
    assert answer.status_code == 204 and answer.headers["HX-Redirect"] == "/mail"
    page = session.get(base(live) + "/mail", timeout=10)
    assert page.status_code == 403 and "ProtocolDisabled" in page.text


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
        live: RunningServer) -> None:
    jo = account(live, "jo")
    live.deliver(jo, plain("x@elsewhere.test", jo, "Keep me", "body"))
    session = http_session(live, jo)
    message = first_id(session.get(base(live) + "/mail", timeout=10).text)
    for token in ("", "x" * 43):
        answer = session.post(base(live) + "/mail/act", data={
            "csrf": token, "action": "delete", "id": str(message)}, timeout=10)
        assert answer.status_code == 403
        sent = session.post(base(live) + "/mail/compose", files={"x": ("", b"")}, data={
            "csrf": token, "action": "send", "to": jo, "subject": "forged"}, timeout=10)
        assert sent.status_code == 403
    assert subjects(live, jo) == ["Keep me"]


def test_a_forged_or_missing_cookie_leads_to_sign_in(live: RunningServer) -> None:
    for cookie in ({}, {"mailgate_session": "eyJhIjoxfQ.forged.sig"}):
        answer = requests.get(base(live) + "/mail/m/1", cookies=cookie, timeout=10,
                              allow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["Location"] == "/signin?next=%2Fmail%2Fm%2F1"


def test_another_accounts_message_is_not_found_and_not_touched(live: RunningServer) -> None:
    kim, lou = account(live, "kim"), account(live, "lou")
    live.deliver(kim, plain("x@elsewhere.test", kim, "Kim's secret", "for Kim only"))
    kims = first_id(http_session(live, kim).get(base(live) + "/mail", timeout=10).text)
    thief = http_session(live, lou)
    for path in (f"/mail/m/{kims}", f"/mail/m/{kims}/a/0", f"/mail/compose?reply={kims}",
                 f"/mail/compose?forward={kims}", "/mail?f=Nope"):
        answer = thief.get(base(live) + path, timeout=10)
        assert answer.status_code == 404, path
        assert "secret" not in answer.text and "for Kim only" not in answer.text
    home = thief.get(base(live) + "/mail", timeout=10).text
    thief.post(base(live) + "/mail/act", data={"csrf": csrf_of(home), "action": "delete",
                                               "id": str(kims)}, timeout=10)
    assert subjects(live, kim) == ["Kim's secret"]


def test_an_upload_past_the_limit_is_413_and_nothing_is_sent(live: RunningServer) -> None:
    max_, ned = account(live, "max"), account(live, "ned")
    session = http_session(live, max_)
    token = csrf_of(session.get(base(live) + "/mail/compose", timeout=10).text)
    answer = session.post(base(live) + "/mail/compose", data={
        "csrf": token, "action": "send", "to": ned, "subject": "big"},
        files={"attachment": ("big.bin", b"\0" * MAX_MESSAGE, "application/octet-stream")},
        timeout=30)
    assert answer.status_code == 413
    assert subjects(live, ned) == [] and subjects(live, max_, "Sent") == []
    fine = session.post(base(live) + "/mail/compose", data={
        "csrf": token, "action": "send", "to": ned, "subject": "small"},
        files={"attachment": ("../../etc/passwd", b"root:x:0:0", "text/plain")}, timeout=30)
    assert fine.status_code == 200 and "Your message was sent." in fine.text
    assert subjects(live, ned) == ["small"]


def test_an_attachment_downloads_under_a_safe_name_and_is_never_sniffed(
        live: RunningServer) -> None:
    oz = account(live, "oz")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "x@elsewhere.test", oz, "Files"
    message.set_content("see attached")
    message.add_attachment(b"<script>alert(1)</script>", maintype="text", subtype="html",
                           filename='..\\..\\evil"; name=x.html')
    message.add_attachment("résumé".encode(), maintype="application", subtype="pdf",
                           filename="Résumé 2026.pdf")
    live.deliver(oz, message.as_bytes())
    session = http_session(live, oz)
    message_id = first_id(session.get(base(live) + "/mail", timeout=10).text)
    evil = session.get(base(live) + f"/mail/m/{message_id}/a/0", timeout=10)
    assert evil.status_code == 200
    assert evil.headers["Content-Type"] == "application/octet-stream"
    assert evil.headers["X-Content-Type-Options"] == "nosniff"
    disposition = evil.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="evil_ name=x.html"'), disposition
    accented = session.get(base(live) + f"/mail/m/{message_id}/a/1", timeout=10)
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9%202026.pdf" in \
        accented.headers["Content-Disposition"]
    assert session.get(base(live) + f"/mail/m/{message_id}/a/2", timeout=10).status_code == 404


def test_a_closed_door_answers_problem_json_to_a_caller_asking_for_json(
        live: RunningServer) -> None:
    pat = account(live, "pat")
    session = http_session(live, pat)
    live.cli("protocol", "set", pat, "web", "off")
    answer = session.get(base(live) + "/mail", headers={"Accept": "application/json"},
                         timeout=10)
    assert answer.status_code == 403
    assert answer.headers["Content-Type"] == "application/problem+json"
    body = answer.json()
    assert (body["title"], body["reason"], body["protocol"]) == (
        "ProtocolDisabled", "account_setting", "web")
    assert body["detail"].startswith("Webmail is turned off for this account by the mail team")
    assert "mailgate_session=\"\"" in answer.headers["Set-Cookie"] or \
        "Max-Age=0" in answer.headers["Set-Cookie"]


def test_search_uses_the_full_text_index_and_paging_and_sorting_work(
        live: RunningServer) -> None:
    quinn = account(live, "quinn")
    for i in range(55):
        body = "the zebra crossing" if i in (7, 40) else "nothing to see"
        live.deliver(quinn, plain(f"sender{i:02d}@elsewhere.test", quinn, f"Note {i:02d}", body))
    session = http_session(live, quinn)
    first = session.get(base(live) + "/mail", timeout=10).text
    assert "1–50 of 55" in first and "Note 54" in first and "Note 04" not in first
    second = session.get(base(live) + "/mail?page=2", timeout=10).text
    assert "51–55 of 55" in second and "Note 00" in second
    by_subject = session.get(base(live) + "/mail?sort=subject&order=asc", timeout=10).text
    assert by_subject.index("Note 00") < by_subject.index("Note 01")
    found = session.get(base(live) + "/mail?q=ZEBRA", timeout=10).text
    assert "1–2 of 2" in found and "Note 07" in found and "Note 40" in found
    assert session.get(base(live) + "/mail?q=giraffe", timeout=10).text.count("/mail/m/") == 0


def test_drafts_forward_reply_all_move_and_flags(live: RunningServer) -> None:
    rae, sal, tim = account(live, "rae"), account(live, "sal"), account(live, "tim")
    message = EmailMessage()
    message["From"], message["To"], message["Cc"] = f"Sal <{sal}>", f"{rae}, {tim}", sal
    message["Subject"] = "Plan"
    message.set_content("the plan")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf",
                           filename="plan.pdf")
    live.deliver(rae, message.as_bytes())
    session = http_session(live, rae)
    url = base(live)
    plan = first_id(session.get(url + "/mail", timeout=10).text)
    everyone = session.get(url + f"/mail/compose?reply={plan}&all=1", timeout=10).text
    assert f'value="Sal &lt;{sal}&gt;, {tim}"' in everyone  # not rae herself
    forward = session.get(url + f"/mail/compose?forward={plan}", timeout=10).text
    assert "Forwarded with: plan.pdf" in forward and 'value="Fwd: Plan"' in forward
    token = csrf_of(forward)
    saved = session.post(url + "/mail/compose", data={
        "csrf": token, "action": "draft", "to": tim, "subject": "Fwd: Plan",
        "body": "see below", "forward_of": str(plan)}, files={"x": ("", b"")}, timeout=10)
    assert "Your draft was saved in Drafts." in saved.text
    drafts = session.get(url + "/mail?f=Drafts", timeout=10).text
    draft = first_id(drafts)
    edit = session.get(url + f"/mail/compose?draft={draft}", timeout=10).text
    assert f'value="{tim}"' in edit and "see below" in edit
    sent = session.post(url + "/mail/compose", data={
        "csrf": token, "action": "send", "to": tim, "subject": "Fwd: Plan",
        "body": "see below", "forward_of": str(plan), "draft_of": str(draft)},
        files={"x": ("", b"")}, timeout=10)
    assert "Your message was sent." in sent.text
    assert subjects(live, rae, "Drafts") == [] and subjects(live, tim) == ["Fwd: Plan"]
    client = imap_raw(live, tim)
    assert 'filename="plan.pdf"' in client and "%PDF-1.4" not in client  # base64
    for action in ("flag", "unread"):
        session.post(url + "/mail/act", data={"csrf": token, "action": action,
                                               "id": str(plan)}, timeout=10)
    row = re.search(r'<tr class="([^"]*)">\s*<td class="pick"><input type="checkbox" '
                    rf'name="id" value="{plan}"',
                    session.get(url + "/mail", timeout=10).text)
    assert row is not None and row[1] == "unread flagged"
    moved = session.post(url + "/mail/act", data={
        "csrf": token, "action": "move", "target": "Archive", "id": str(plan),
        "back": "/mail"}, timeout=10)
    assert moved.status_code == 200
    assert subjects(live, rae, "Archive") == ["Plan"] and subjects(live, rae) == []


def imap_raw(live: RunningServer, address: str) -> str:
    client = imap(live, address)
    try:
        client.select("INBOX", readonly=True)
        _, data = client.fetch("1", "(BODY.PEEK[])")
        return str(data[0][1].decode())
    finally:
        client.logout()

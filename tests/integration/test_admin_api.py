"""The admin REST API against a real `mailgate serve`: who may call what (every refusal in
the CLI's words, nothing changed), a case from request to a working POP download, compromise
ending a live IMAP IDLE, a session ended by hand, bad input and dead keys."""

from __future__ import annotations

import poplib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import click
import pytest
from admin_client import DEPARTMENT, PASSWORD, USER, AdminApi, staff_api
from imapclient import IMAPClient
from live_server import start_server, wait_until

from mailgate.cli.main import cli
from support import run_inprocess

TARGET = "target@example.test"
ROLES = ("user", "helpdesk", "dept-admin", "admin")
ACTING_AS = {"user": USER, "helpdesk": "desk@example.test", "dept-admin": "chair@example.test"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminApi]:
    server = start_server(tmp_path_factory.mktemp("admin-api") / "data",
                          ("imap", "pop3", "http"))
    try:
        api = staff_api(server)
        api.ok("admin", "POST", "/accounts", {"address": TARGET, "password": PASSWORD,
                                              "department": DEPARTMENT})
        yield api
    finally:
        server.stop()
    server.assert_clean_exit()


@dataclass(frozen=True)
class Call:
    """One endpoint, the CLI command it mirrors, and the roles that may call it."""

    method: str
    path: str
    body: dict[str, object] | None
    cli: tuple[str, ...] | None  # None: the API alone has it
    allowed: frozenset[str]
    stdin: str | None = None


STAFF = frozenset({"helpdesk", "admin"})
ADMIN_ONLY = frozenset({"admin"})
EVERYONE = frozenset(ROLES)
DEPT_OR_ADMIN = frozenset({"dept-admin", "admin"})
T = TARGET


def _calls(case_id: int) -> list[Call]:
    c = case_id
    return [
        Call("GET", "/accounts", None, ("account", "list"), STAFF),
        Call("POST", "/accounts", {"address": "new@example.test"},
             ("account", "create", "new@example.test"), ADMIN_ONLY),
        Call("GET", f"/accounts/{T}", None, ("account", "show", T), STAFF),
        Call("POST", f"/accounts/{T}/password", {"password": "another good password"},
             ("account", "password", T, "--password-stdin"), STAFF,
             "another good password\n"),
        Call("POST", f"/accounts/{T}/compromise", {"reason": "phished"},
             ("account", "compromise", T, "--reason", "phished"), STAFF),
        Call("POST", f"/accounts/{T}/restore", {"password": "a new password", "note": "id"},
             ("account", "restore", T, "--password-stdin", "--note", "id"), STAFF,
             "a new password\n"),
        Call("POST", f"/accounts/{T}/deactivate", {}, ("account", "deactivate", T),
             ADMIN_ONLY),
        Call("POST", f"/accounts/{T}/activate", None, ("account", "activate", T), ADMIN_ONLY),
        Call("PUT", f"/accounts/{T}/protocols/pop", {"value": "on"},
             ("protocol", "set", T, "pop", "on"), ADMIN_ONLY),
        Call("PUT", f"/accounts/{T}/protocols/imap", {"value": "off"},
             ("protocol", "set", T, "imap", "off"), STAFF),
        Call("POST", "/departments", {"name": "Chemistry"},
             ("department", "create", "Chemistry"), ADMIN_ONLY),
        Call("PUT", f"/departments/{DEPARTMENT}/policy/imap", {"value": "deny"},
             ("department", "policy", DEPARTMENT, "imap", "deny"),
             frozenset({"dept-admin", "admin"})),
        Call("PUT", "/plans/standard/protocols/imap", {"value": "off", "dry_run": True},
             ("plan", "set", "standard", "imap", "off", "--dry-run"), ADMIN_ONLY),
        Call("POST", f"/accounts/{T}/roles", {"role": "helpdesk"},
             ("role", "grant", T, "helpdesk"), ADMIN_ONLY),
        Call("POST", "/cases", {"account": T, "protocol": "pop", "want": "on", "note": "n"},
             ("case", "open", T, "pop", "on", "--note", "n"), STAFF),
        Call("GET", "/cases", None, ("case", "list"), EVERYONE),
        Call("POST", f"/cases/{c}/notes", {"note": "n"}, ("case", "note", str(c), "--note", "n"),
             STAFF),
        Call("POST", f"/cases/{c}/escalate", None, ("case", "escalate", str(c)), STAFF),
        Call("POST", f"/cases/{c}/approve", {}, ("case", "approve", str(c)), ADMIN_ONLY),
        Call("POST", f"/cases/{c}/deny", None, ("case", "deny", str(c)), STAFF),
        Call("GET", f"/accounts/{T}/app-passwords", None, ("app-password", "list", T), STAFF),
        Call("POST", f"/accounts/{T}/app-passwords", {"protocols": ["imap"]},
             ("app-password", "create", T, "--protocol", "imap"), STAFF),
        Call("DELETE", f"/accounts/{T}/app-passwords/1", None,
             ("app-password", "revoke", T, "1"), STAFF),
        Call("POST", f"/accounts/{T}/tokens", {"protocols": ["imap"]},
             ("token", "issue", T, "--protocol", "imap"), ADMIN_ONLY),
        Call("DELETE", f"/accounts/{T}/tokens/abc123", None,
             ("token", "revoke", T, "abc123"), STAFF),
        Call("GET", f"/accounts/{T}/recoverable", None, ("recover", "list", T), STAFF),
        Call("POST", f"/accounts/{T}/recoverable/restore", {"all": True},
             ("recover", "restore", T, "--all"), STAFF),
        Call("GET", "/audit", None, ("audit",), STAFF),
        Call("GET", "/audit/verify", None, ("audit", "verify"), STAFF),
        Call("GET", "/reports/usage", None, ("report", "usage"), STAFF),
        Call("GET", "/sessions", None, ("sessions",), STAFF),
        Call("GET", f"/accounts/{T}/sessions", None, ("sessions", T), STAFF),
        Call("DELETE", "/sessions/no-such-session", None, None, STAFF),
        Call("POST", "/api-keys", {"account": T}, ("api-key", "create", T), ADMIN_ONLY),
        Call("GET", "/api-keys", None, ("api-key", "list"), EVERYONE),
        Call("GET", "/me", None, None, EVERYONE),
        Call("GET", "/oauth/clients", None, ("oauth", "client", "list"), ADMIN_ONLY),
        Call("POST", "/oauth/clients", {"name": "App", "public": False},
             ("oauth", "client", "add", "App", "--confidential"), ADMIN_ONLY),
        Call("DELETE", "/oauth/clients/0123456789abcdef01234567", None,
             ("oauth", "client", "remove", "0123456789abcdef01234567"), ADMIN_ONLY),
        Call("GET", "/queue", None, ("queue", "list"), ADMIN_ONLY),
        Call("POST", "/queue/0123456789ab/retry", None, ("queue", "retry", "0123456789ab"),
             ADMIN_ONLY),
        Call("POST", "/queue/retry", None, ("queue", "retry", "--all"), ADMIN_ONLY),
        Call("DELETE", "/queue/0123456789ab", None, ("queue", "delete", "0123456789ab"),
             ADMIN_ONLY),
        Call("POST", "/dkim/keys", {"domain": "example.test"},
             ("dkim", "generate", "example.test"), ADMIN_ONLY),
        Call("PUT", "/plans/standard/methods/imap", {"methods": ["oauth"]},
             ("methods", "set", "plan", "standard", "imap", "oauth"), ADMIN_ONLY),
        Call("PUT", f"/departments/{DEPARTMENT}/methods/imap", {"methods": "all"},
             ("methods", "set", "department", DEPARTMENT, "imap", "all"), DEPT_OR_ADMIN),
        Call("PUT", f"/accounts/{T}/methods/imap", {"methods": ["password"]},
             ("methods", "set", "account", T, "imap", "password"), ADMIN_ONLY),
        Call("PUT", "/networks/pop", {"networks": ["10.0.0.0/8"]},
             ("network", "set", "pop", "10.0.0.0/8"), ADMIN_ONLY),
        Call("GET", "/plans/standard/sending", None, ("plan", "sending", "standard"),
             ADMIN_ONLY),
        Call("PATCH", "/plans/standard/sending", {"messages_per_hour": 5},
             ("plan", "sending", "standard", "--messages-per-hour", "5"), ADMIN_ONLY),
        Call("PUT", "/plans/standard/mfa", {"value": "on"},
             ("mfa", "require", "plan", "standard", "on"), ADMIN_ONLY),
        Call("PUT", f"/departments/{DEPARTMENT}/mfa", {"value": "on"},
             ("mfa", "require", "department", DEPARTMENT, "on"), DEPT_OR_ADMIN),
        Call("GET", f"/accounts/{T}/mfa", None, ("mfa", "status", T), STAFF),
        Call("POST", f"/accounts/{T}/mfa/reset", {"reason": "lost phone"},
             ("mfa", "reset", T, "--reason", "lost phone"), STAFF),
        Call("GET", "/dns/example.test", None, ("dns", "example.test"), EVERYONE),
    ]


def test_every_forbidden_call_is_refused_in_the_cli_words_and_changes_nothing(
        api: AdminApi) -> None:
    case = api.ok("admin", "POST", "/cases", {"account": TARGET, "protocol": "pop",
                                              "want": "on", "note": "matrix"})
    before = (api.audit_size(), api.ok("admin", "GET", f"/accounts/{TARGET}"),
              api.ok("admin", "GET", "/cases"))
    forbidden = 0
    for call in _calls(case["id"]):  # type: ignore[index]
        for role in ROLES:
            if role in call.allowed:
                continue
            answer = api.call(role, call.method, call.path, call.body)
            where = f"{role} {call.method} {call.path}"
            assert answer.status_code == 403, (where, answer.text)
            assert answer.headers["content-type"] == "application/problem+json", where
            problem = answer.json()
            assert (problem["status"], problem["title"]) == (403, "Forbidden"), where
            if call.cli is not None:
                cli = run_inprocess(api.server.data, *call.cli, stdin=call.stdin,
                                    acting_as=ACTING_AS[role])
                assert cli.returncode != 0, where
                assert cli.stderr.strip() == f"mailgate: {problem['detail']}", where
            forbidden += 1
    assert forbidden >= 60
    after = (api.audit_size(), api.ok("admin", "GET", f"/accounts/{TARGET}"),
             api.ok("admin", "GET", "/cases"))
    assert after == before
    assert api.ok("admin", "GET", "/oauth/clients") == []
    assert not (api.server.data / "dkim").exists()


def test_allowed_reads_answer_for_every_role_that_may(api: AdminApi) -> None:
    for call in _calls(1):
        if call.method != "GET":
            continue
        for role in call.allowed:
            answer = api.call(role, call.method, call.path)
            assert answer.status_code == 200, (role, call.path, answer.text)
    own = api.ok("user", "GET", f"/accounts/{USER}")
    assert own["protocols"]["pop"]["reason"] == "plan_default"  # type: ignore[index]


def test_a_case_over_the_api_ends_with_pop_working(api: AdminApi) -> None:
    address = "pop-user@example.test"
    api.ok("admin", "POST", "/accounts", {"address": address, "password": PASSWORD})
    api.ok("admin", "POST", "/api-keys", {"account": address})
    with pytest.raises(poplib.error_proto, match="ProtocolDisabled"):
        api.server.pop_session(address, PASSWORD)
    refused = api.call("helpdesk", "PUT", f"/accounts/{address}/protocols/pop",
                       {"value": "on"})
    assert refused.status_code == 403
    assert "escalate a case" in refused.json()["detail"]
    case = api.ok("helpdesk", "POST", "/cases", {"account": address, "protocol": "pop3",
                                                 "want": "on", "note": "caller on phone"})
    case_id = case["id"]  # type: ignore[index]
    assert case["status"] == "open"  # type: ignore[index]
    early = api.call("helpdesk", "POST", f"/cases/{case_id}/approve", {"for": "7d"})
    assert early.status_code == 403
    assert early.json()["detail"] == ("only the mail team can approve turning POP on; "
                                      f"escalate the case: mailgate case escalate {case_id}")
    escalated = api.ok("helpdesk", "POST", f"/cases/{case_id}/escalate")
    assert escalated["status"] == "escalated"  # type: ignore[index]
    approved = api.ok("admin", "POST", f"/cases/{case_id}/approve", {"for": "7d"})
    assert approved["status"] == "approved"  # type: ignore[index]
    door = api.ok("helpdesk", "GET", f"/accounts/{address}")["protocols"]["pop"]  # type: ignore[index]
    assert (door["enabled"], door["reason"], door["source"]) == (True, "temporary_grant", "case")
    client = api.server.pop_session(address, PASSWORD)
    assert client.stat() == (0, 0)
    client.quit()
    steps = [e for e in api.ok("admin", "GET", f"/audit?account={address}")  # type: ignore[union-attr]
             if e["action"].startswith("case.")]
    assert [(e["action"], e["actor"], e["role"]) for e in steps] == [
        ("case.open", "desk@example.test", "helpdesk"),
        ("case.escalate", "desk@example.test", "helpdesk"),
        ("case.approve", "ops@example.test", "admin")]
    assert steps[0]["note"] == "caller on phone"


def _audited(api: AdminApi, address: str, action: str) -> dict[str, object]:
    """The newest audit entry of this action on the account (sign-ins come in between)."""
    entries = api.ok("admin", "GET", f"/audit?account={address}")
    return [e for e in entries if e["action"] == action][-1]  # type: ignore[union-attr]


def _idle(api: AdminApi, address: str) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=api.server.ports["imap"], ssl=False, timeout=10)
    client.login(address, PASSWORD)
    client.select_folder("INBOX")
    client.idle()
    return client


def _until_bye(client: IMAPClient) -> bytes:
    sock = client.socket()
    sock.settimeout(5)
    seen = b""
    while b"BYE" not in seen or not seen.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        seen += chunk
    return seen


def test_compromise_over_the_api_ends_a_live_idle_session_within_a_second(
        api: AdminApi) -> None:
    address = "phished@example.test"
    api.ok("admin", "POST", "/accounts", {"address": address, "password": PASSWORD})
    client = _idle(api, address)
    started = time.monotonic()
    shown = api.ok("helpdesk", "POST", f"/accounts/{address}/compromise",
                   {"reason": "clicked a phishing link"})
    seen = _until_bye(client)
    assert time.monotonic() - started < 1.0
    assert b"* BYE [CONTACTADMIN] ProtocolDisabled: IMAP" in seen
    assert shown["state"] == "compromised"  # type: ignore[index]
    entry = _audited(api, address, "account.compromise")
    assert (entry["actor"], entry["role"], entry["reason"]) == (
        "desk@example.test", "helpdesk", "clicked a phishing link")
    restored = api.ok("helpdesk", "POST", f"/accounts/{address}/restore",
                      {"password": "a brand new password", "note": "verified by phone"})
    assert restored["protocols"]["imap"]["reason"] == "plan_default"  # type: ignore[index]


def test_staff_end_a_live_session_by_hand(api: AdminApi) -> None:
    address = "kicked@example.test"
    api.ok("admin", "POST", "/accounts", {"address": address, "password": PASSWORD})
    client = _idle(api, address)
    wait_until(lambda: api.ok("helpdesk", "GET", f"/accounts/{address}/sessions"), 10,
               lambda: "the session never showed in the live-session list")
    session = api.ok("helpdesk", "GET", f"/accounts/{address}/sessions")[0]  # type: ignore[index]
    assert (session["protocol"], session["method"]) == ("imap", "password")
    refused = api.call("user", "DELETE", f"/sessions/{session['id']}")
    assert refused.json()["detail"] == ("only the help desk or the mail team can end live "
                                        "sessions")
    ended = api.ok("helpdesk", "DELETE", f"/sessions/{session['id']}?reason=shared+laptop")
    assert ended == {"id": session["id"], "account": address, "protocol": "imap",
                     "ended": True}
    assert b"* BYE [CONTACTADMIN] SessionEnded: A member of staff ended this IMAP session" \
        in _until_bye(client)
    gone = api.call("helpdesk", "DELETE", f"/sessions/{session['id']}")
    assert gone.status_code == 404
    entry = _audited(api, address, "session.end")
    assert (entry["role"], entry["reason"], entry["protocol"]) == (
        "helpdesk", "shared laptop", "imap")


@pytest.mark.parametrize(("content", "status", "detail"), [
    (b'{"value": ', 422, "the request body is not valid JSON"),
    (b'["on"]', 422, None),
    (b'{"value": "maybe"}', 422, None),
    (b'{"value": "on", "extra": 1}', 422, None),
    (b'{"value": "on", "for": "7 days"}', 422,
     "invalid duration '7 days': use a number with a unit, e.g. 90s, 15m, 12h, 7d"),
    (b'{"value": "on", "reason": "' + b"x" * 70_000 + b'"}', 413,
     "the request body is larger than 65536 bytes"),
])
def test_malformed_or_huge_bodies_are_refused_cleanly_and_change_nothing(
        api: AdminApi, content: bytes, status: int, detail: str | None) -> None:
    before = api.audit_size()
    answer = api.call("admin", "PUT", f"/accounts/{USER}/protocols/smtp",
                      headers={"content-type": "application/json"}, content=content)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    if detail is not None:
        assert answer.json()["detail"] == detail
    assert api.audit_size() == before


def test_a_streamed_body_past_the_cap_is_refused(api: AdminApi) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"value": "on", "reason": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    answer = api.call("admin", "PUT", f"/accounts/{USER}/protocols/smtp",
                      headers={"content-type": "application/json"}, content=chunks())
    assert answer.status_code == 413
    assert answer.json()["title"] == "Request Entity Too Large"


def test_unknown_revoked_and_dead_keys_get_the_same_401(api: AdminApi) -> None:
    address = "temp-staff@example.test"
    api.ok("admin", "POST", "/accounts", {"address": address, "password": PASSWORD})
    api.ok("admin", "POST", f"/accounts/{address}/roles", {"role": "helpdesk"})
    made = api.ok("admin", "POST", "/api-keys", {"account": address})
    api.keys["temp"] = made["secret"]  # type: ignore[index]
    assert api.ok("temp", "GET", "/me")["role"] == "helpdesk"  # type: ignore[index]
    api.keys["unknown"] = "mgk_" + "0" * 48
    api.keys["garbage"] = "not a key at all"
    unknown = api.call("unknown", "GET", "/me")
    assert unknown.status_code == 401
    assert unknown.headers["www-authenticate"].startswith("Bearer")
    assert api.call("garbage", "GET", "/me").json() == unknown.json()
    with api.client("admin") as client:
        bare = client.get("/me", headers={"Authorization": ""})
    assert (bare.status_code, bare.json()) == (401, unknown.json())
    revoked = api.ok("admin", "DELETE", f"/api-keys/{made['id']}")  # type: ignore[index]
    assert revoked["status"] == "revoked"  # type: ignore[index]
    answer = api.call("temp", "GET", "/me")
    assert (answer.status_code, answer.json()) == (401, unknown.json())
    second = api.ok("admin", "POST", "/api-keys", {"account": address})
    api.keys["temp"] = second["secret"]  # type: ignore[index]
    assert api.call("temp", "GET", "/me").status_code == 200
    api.ok("admin", "POST", f"/accounts/{address}/compromise", {"reason": "laptop stolen"})
    answer = api.call("temp", "GET", "/me")
    assert (answer.status_code, answer.json()) == (401, unknown.json())
    listed = {k["id"]: k["status"] for k in api.ok("admin", "GET", "/api-keys")}  # type: ignore[union-attr]
    assert listed[second["id"]] == "revoked"  # type: ignore[index]


def test_the_openapi_document_and_docs_page_are_served(api: AdminApi) -> None:
    with api.client("admin") as client:
        document = client.get("/openapi.json").json()
        page = client.get("/docs")
    assert document["info"]["title"] == "mailgate admin API"
    assert {"/accounts/{address}", "/cases/{case_id}/approve", "/audit/verify",
            "/plans/{name}/protocols/{protocol}"} <= set(document["paths"])
    assert page.status_code == 200 and "swagger" in page.text.lower()


#: commands that act on the server's own host, not on the directory: no endpoint
HOST_ONLY = {"init", "serve", "import", "deliver"}


def cli_commands(group: click.Group, prefix: str = "") -> set[str]:
    """Every leaf command of the CLI, as typed ("oauth client add")."""
    found = set()
    for name, command in group.commands.items():
        path = f"{prefix} {name}".strip()
        if isinstance(command, click.Group):
            found |= cli_commands(command, path)
        else:
            found.add(path)
    return found


def test_every_cli_command_but_the_hosts_own_has_an_endpoint(api: AdminApi) -> None:
    with api.client("admin") as client:
        document = client.get("/openapi.json").json()
    summaries = [operation.get("summary", "") for methods in document["paths"].values()
                 for operation in methods.values()]
    missing = {command for command in cli_commands(cli) - HOST_ONLY
               if not any(s == command or s.startswith(command + " ") for s in summaries)}
    assert not missing, f"CLI commands without an endpoint: {sorted(missing)}"


def test_unknown_paths_are_problems_too(api: AdminApi) -> None:
    answer = api.call("admin", "GET", "/no/such/thing")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    missing = api.call("admin", "GET", "/accounts/nobody@example.test")
    assert (missing.status_code, missing.json()["detail"]) == (
        404, "no account nobody@example.test")

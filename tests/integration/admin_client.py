"""The admin REST API as a client sees it: httpx against a real `mailgate serve`, with an
API key per staff role (made by the CLI for the mail team, by the API for the others)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx
from live_server import RunningServer

DOMAIN = "example.test"
ADMIN = f"ops@{DOMAIN}"
HELPDESK = f"desk@{DOMAIN}"
DEPT_ADMIN = f"chair@{DOMAIN}"
USER = f"student@{DOMAIN}"
DEPARTMENT = "Physics"
PASSWORD = "correct horse battery"


@dataclass
class AdminApi:
    """One httpx client per role, each sending its own API key."""

    server: RunningServer
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.ports['http']}/api/admin/v1"

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30,
                            headers={"Authorization": f"Bearer {self.keys[role]}"})

    def call(self, role: str, method: str, path: str, body: object = None,
             **options: object) -> httpx.Response:
        with self.client(role) as client:
            return client.request(method, path, json=body, **options)  # type: ignore[arg-type]

    def ok(self, role: str, method: str, path: str, body: object = None) -> object:
        answer = self.call(role, method, path, body)
        assert answer.status_code < 300, (method, path, answer.status_code, answer.text)
        return answer.json() if answer.content else None

    def audit_size(self) -> int:
        return len(self.ok("admin", "GET", "/audit"))  # type: ignore[arg-type]


def staff_api(server: RunningServer) -> AdminApi:
    """The mail team's key from the CLI; then, over the API, a department, a help-desk
    member, a dept-admin of it and a plain user, each with a key."""
    server.account(ADMIN, PASSWORD)
    server.cli("role", "grant", ADMIN, "admin")
    made = json.loads(server.cli("api-key", "create", ADMIN, "--label", "tests",
                                 "--json").stdout)
    api = AdminApi(server, {"admin": made["secret"]})
    api.ok("admin", "POST", "/departments", {"name": DEPARTMENT})
    people = {"helpdesk": (HELPDESK, {"role": "helpdesk"}),
              "dept-admin": (DEPT_ADMIN, {"role": "dept-admin", "department": DEPARTMENT}),
              "user": (USER, None)}
    for role, (address, grant) in people.items():
        api.ok("admin", "POST", "/accounts", {"address": address, "password": PASSWORD,
                                              "department": DEPARTMENT})
        if grant is not None:
            api.ok("admin", "POST", f"/accounts/{address}/roles", grant)
        key = api.ok("admin", "POST", "/api-keys", {"account": address, "label": role})
        api.keys[role] = key["secret"]  # type: ignore[index]
    return api

"""schemathesis against the admin API's served OpenAPI document: generated requests, valid
and not, to every operation of a real `mailgate serve`, find no server error (5xx)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from admin_client import ADMIN, AdminApi, staff_api
from live_server import RunningServer, start_server

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
#: The operations that can take the caller's own key away (deactivating or compromising
#: its account, revoking the key): run last, on a key of their own.
KEY_KILLERS = r"/accounts/\{address\}/(deactivate|compromise)|/api-keys/\{key_id\}"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[AdminApi]:
    server = start_server(tmp_path / "data", ("imap", "pop3", "http"))
    try:
        api = staff_api(server)
        # the account the document's examples name, so they reach real data
        api.ok("admin", "POST", "/accounts", {"address": "alice@example.test",
                                              "password": "correct horse battery"})
        yield api
    finally:
        server.stop()
    server.assert_clean_exit()


def _run(server: RunningServer, key: str, *selection: str) -> subprocess.CompletedProcess[str]:
    url = f"http://127.0.0.1:{server.ports['http']}/api/admin/v1/openapi.json"
    return subprocess.run(
        [str(SCHEMATHESIS), "run", url, "--checks", "not_a_server_error",
         "--phases", "examples,coverage,fuzzing", "--max-examples", "8", "--workers", "1",
         "--header", f"Authorization: Bearer {key}", "--request-timeout", "30",
         "--no-color", *selection],
        capture_output=True, text=True, timeout=300, env={**os.environ, "NO_COLOR": "1"},
        cwd=server.data)  # its cache of crashes stays with the test's data


def test_generated_requests_find_no_server_error(api: AdminApi) -> None:
    everything_else = _run(api.server, api.keys["admin"], "--exclude-path-regex", KEY_KILLERS)
    assert everything_else.returncode == 0, everything_else.stdout[-6000:]
    own_key = json.loads(api.server.cli("api-key", "create", ADMIN, "--json").stdout)
    killers = _run(api.server, own_key["secret"], "--include-path-regex", KEY_KILLERS)
    assert killers.returncode == 0, killers.stdout[-6000:]

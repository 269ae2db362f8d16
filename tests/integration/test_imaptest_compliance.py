"""Dovecot imaptest's scripted compliance tests (../shared/testdata/imaptest), replayed
against a real `mailgate serve` by the runner in tests/imaptest.

Every group Dovecot passes must pass here. The groups that do not pass yet are listed in
`NOT_YET` with the reason, as strict expected failures: when one starts passing, the test
says so and it leaves the list. Groups Dovecot itself skips are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import RunningServer, start_server

from imaptest.runner import run_group
from imaptest.script import group_names
from support import SHARED, shared_path

FOLDER = "testdata/imaptest"
USER, PASSWORD = "imaptest@example.test", "imaptest-pass"

#: Skipped by Dovecot too (README): CONTEXT=SORT and URLAUTH are not offered.
DOVECOT_SKIPS = {"sort-partial", "urlauth", "urlauth-binary", "urlauth2"}

#: Groups Dovecot passes that the IMAP door does not pass yet, and why.
NOT_YET: dict[str, str] = {}  # none left: every group Dovecot passes passes here too


def _groups() -> list[str]:
    folder = SHARED / FOLDER
    if not folder.is_dir():
        return [FOLDER]  # one test, which skips (or fails) naming the folder
    return group_names(folder)


def _marks(name: str) -> list[pytest.MarkDecorator]:
    if name in NOT_YET:
        return [pytest.mark.xfail(strict=True, reason=NOT_YET[name])]
    return []


@pytest.fixture(scope="module")
def imap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("imaptest") / "data",
                           ("imap", "imaps", "http"))
    running.account(USER, PASSWORD)
    yield running
    running.stop_cleanly()


@pytest.mark.parametrize("group", [pytest.param(g, marks=_marks(g)) for g in _groups()])
def test_imaptest_group(group: str, imap_server: RunningServer) -> None:
    folder: Path = shared_path(FOLDER)
    if group in DOVECOT_SKIPS:
        pytest.skip("Dovecot skips it too (see the imaptest README)")
    result = run_group(group, "127.0.0.1", imap_server.ports["imap"], USER, PASSWORD,
                       tests_dir=folder, timeout=10)
    assert result.status == "passed", result.line() + "\n" + "\n".join(result.trace[-20:])

"""A fresh clone with no ../shared beside it: the tests that need it skip, naming what is
missing, and fail instead under MAILGATE_REQUIRE_SHARED=1 (as .ci/run sets it); the
repository's own fixtures are tested either way."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import FIXTURES

REPOSITORY = Path(__file__).resolve().parents[2]
NEEDS_SHARED = ["tests/unit/test_mime.py", "tests/integration/test_mime_corpus_store.py"]
SLOW_AND_UNRELATED = "not generated and not soup and not maildir"  # properties, imports
OWN_FIXTURES_TESTED = {
    *(f"tests/unit/test_mime.py::test_own_fixture_parses_consistently[{path.name}]"
      for path in (FIXTURES / "mime").iterdir() if path.suffix in (".eml", ".mbox")),
    "tests/integration/test_mime_corpus_store.py::"
    "test_every_eml_is_delivered_and_kept_byte_for_byte[own]",
    "tests/integration/test_mime_corpus_store.py::"
    "test_every_mbox_imports_every_message_byte_for_byte[own]",
}


@pytest.fixture(scope="module")
def lonely_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's tests and pytest settings, in a folder with no shared/ beside it."""
    root = tmp_path_factory.mktemp("lonely") / "repo"
    shutil.copytree(REPOSITORY / "tests", root / "tests",
                    ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
    shutil.copy(REPOSITORY / "pyproject.toml", root)
    assert not (root.parent / "shared").exists()
    return root


def run_tests(root: Path, require_shared: bool) -> str:
    """pytest as `make test` runs it (and listing what passed), on the tests that use
    ../shared; returns the exit status and output."""
    env = {name: value for name, value in os.environ.items()
           if name != "MAILGATE_REQUIRE_SHARED"}
    env["COLUMNS"] = "1000"  # summary lines in full
    if require_shared:
        env["MAILGATE_REQUIRE_SHARED"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfEsp", "-p", "no:cacheprovider",
         "-k", SLOW_AND_UNRELATED, *NEEDS_SHARED],
        cwd=root, env=env, capture_output=True, text=True, timeout=600)
    return f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}"


def summary(output: str) -> dict[str, int]:
    """The counts of pytest's last line: {"passed": 150, "skipped": 17, ...}."""
    last = output.rstrip().splitlines()[-1]
    return {word: int(count) for count, word in re.findall(r"(\d+) (\w+)", last)}


def passed(output: str) -> set[str]:
    return set(re.findall(r"^PASSED (\S+)$", output, re.MULTILINE))


def test_tests_needing_shared_skip_and_say_what_is_missing(lonely_clone: Path) -> None:
    output = run_tests(lonely_clone, require_shared=False)
    missing = lonely_clone.parent / "shared" / "testdata" / "mime"
    assert output.startswith("exit 0\n"), output
    skips = re.findall(r"^SKIPPED \[(\d+)\] \S+: (.*)$", output, re.MULTILINE)
    assert skips, output
    assert {reason for _, reason in skips} == {f"{missing} is not beside the repository"}
    assert summary(output)["skipped"] == sum(int(count) for count, _ in skips)
    assert passed(output) >= OWN_FIXTURES_TESTED, output


def test_required_shared_turns_each_skip_into_a_failure(lonely_clone: Path) -> None:
    output = run_tests(lonely_clone, require_shared=True)
    missing = lonely_clone.parent / "shared" / "testdata" / "mime"
    assert output.startswith("exit 1\n"), output
    assert "SKIPPED" not in output
    failures = re.findall(r"^FAILED (\S+) - (.*)$", output, re.MULTILINE)
    reason = f"{missing} is not beside the repository (MAILGATE_REQUIRE_SHARED=1 requires it)"
    assert failures and {message for _, message in failures} == {f"Failed: {reason}"}, output
    assert summary(output)["failed"] == len(failures)
    assert passed(output) >= OWN_FIXTURES_TESTED, output
    assert "Traceback" not in output

"""imaptest's scripted compliance tests on the reference Dovecot: the check of the runner.

Starts dovecot-reference (PLAIN passwords, one user), runs the test groups of
../shared/testdata/imaptest with the runner of tests/imaptest, prints one line per group, the
score and the run time, names every group whose result differs from Dovecot's published score
(the test data's README: 67 passed, 0 failed, 4 skipped - sort-partial, urlauth,
urlauth-binary, urlauth2 - and 0/457 base, 0/329 extension commands failed), and stops Dovecot.
The same figures go to bench/results/imaptest_dovecot.json.

    .venv/bin/python bench/imaptest_dovecot.py [--group NAME ...] [--keep]

Exit status 0 when every group run scores as in the README, 1 otherwise.
Needs root (dovecot-reference installs Debian's Dovecot if missing).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import benchlib as bl

from imaptest.runner import DEFAULT_DIR, run_group, summary
from imaptest.script import group_names

README_SKIPPED = {"sort-partial", "urlauth", "urlauth-binary", "urlauth2"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", action="append", metavar="NAME",
                        help="run only this group (repeatable); default: all")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if not DEFAULT_DIR.is_dir():
        sys.exit(f"no test groups at {DEFAULT_DIR}")
    names = args.group or group_names(DEFAULT_DIR)
    with bl.workspace("imaptest", keep=args.keep) as work:
        dovecot = bl.DovecotReference(work / "dovecot", users=1, scheme="PLAIN").start()
        try:
            started = time.monotonic()
            results = []
            for name in names:
                result = run_group(name, "127.0.0.1", dovecot.imap, dovecot.user(1), bl.PASSWORD)
                results.append(result)
                print(result.line(), flush=True)
            seconds = time.monotonic() - started
        finally:
            dovecot.stop()
    lines = summary(results)
    for text in lines:
        print(text)
    print(f"run time: {seconds:.1f} s for {len(results)} groups")
    differ = [r for r in results
              if r.status != ("skipped" if r.name in README_SKIPPED else "passed")]
    for result in differ:
        print(f"differs from the README: {result.line()}")
    if not differ:
        print("matches Dovecot's published score")
    bl.write_results("imaptest_dovecot", {
        "machine": bl.machine(), "seconds": seconds, "summary": lines,
        "differs": [r.name for r in differ],
        "groups": [{"name": r.name, "status": r.status, "reason": r.reason,
                    "commands": r.steps, "seconds": r.seconds} for r in results]})
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

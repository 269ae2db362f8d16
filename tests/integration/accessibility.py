"""axe-core run on a Playwright page: `assert_accessible(page, name)`.

axe-core comes from the `axe-playwright-python` package (test extras), which ships
`axe.min.js`: nothing is fetched when the tests run. The page gets axe injected (through
Playwright's evaluate, which the pages' Content-Security-Policy does not block), axe runs the
WCAG 2.0/2.1 A and AA rules, the whole result is saved as
`accessibility/<name>.json` under the test artifacts directory, and the test fails listing
every serious or critical violation: its rule, what it asks for, and the selectors of the
elements at fault. Without the package the test is skipped, saying so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from browser import ARTIFACTS

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING = ("serious", "critical")


def result_path(name: str) -> Path:
    """Where a page's full axe result goes: its name with anything odd made a `_`."""
    folder = ARTIFACTS / "accessibility"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") + ".json")


def run_axe(page: Any) -> dict[str, Any]:
    """axe-core's result for the page as it is now (WCAG 2.1 A and AA rules only)."""
    axe = pytest.importorskip(
        "axe_playwright_python.sync_playwright",
        reason="axe-playwright-python (it ships axe-core) is not installed: "
               "pip install -e '.[test]'")
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}}
    return dict(axe.Axe().run(page, options=options).response)


def serious(result: dict[str, Any]) -> list[str]:
    """One line per serious or critical violation: rule, help, offending selectors."""
    lines = []
    for violation in result.get("violations", []):
        if violation.get("impact") not in FAILING:
            continue
        targets = [" >> ".join(map(str, node.get("target", []))) for node in violation["nodes"]]
        lines.append(f"{violation['impact']} {violation['id']}: {violation['help']} "
                     f"-> {', '.join(targets)}")
    return lines


def assert_accessible(page: Any, name: str) -> dict[str, Any]:
    """Run axe on the page, save the result, fail on any serious or critical violation."""
    result = run_axe(page)
    result_path(name).write_text(json.dumps(result, indent=2))
    found = serious(result)
    assert not found, (f"{name} ({page.url}): {len(found)} serious/critical accessibility "
                       "violation(s):\n" + "\n".join(found))
    return result

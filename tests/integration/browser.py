"""Browser tests with Playwright driving Debian's chromium (no browser download).

`browser` launches `/usr/bin/chromium` headless once per test module (Playwright's own
driver, given `executable_path`, needs no browser build of its own). Not once per test
process: Playwright's sync API keeps its event loop marked running in the main thread while
it is open, so every asyncio test run after it by the same worker would fail with "Runner.run()
cannot be called from a running event loop"; a module's browser closes before the worker
moves on to the next module. `page` is a fresh
context and page per test, whose last state is saved as a screenshot under the test
artifacts directory (`MAILGATE_TEST_ARTIFACTS`, else `test-artifacts/` at the repository's
root), in `browser/<test name>.png`, pass or fail. Without chromium the tests are skipped,
saying so; CI installs it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("MAILGATE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking",
                 "--disable-component-update"]
ARTIFACTS = Path(os.environ.get("MAILGATE_TEST_ARTIFACTS")
                 or Path(__file__).resolve().parents[2] / "test-artifacts")


def screenshot_path(test_name: str) -> Path:
    """Where a test's screenshot goes: its name with anything odd made a `_`."""
    folder = ARTIFACTS / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name).strip("_") + ".png")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install chromium "
                    "(or point MAILGATE_TEST_CHROMIUM at one)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    opened = context.new_page()
    yield opened
    opened.screenshot(path=str(screenshot_path(request.node.name)), full_page=True)
    context.close()


def click_and_wait(page, selector: str) -> None:  # type: ignore[no-untyped-def]
    """Click what submits a form or follows a link, and wait for the next page: reading the
    page right after a bare click may still read the old one."""
    with page.expect_navigation():
        page.click(selector)

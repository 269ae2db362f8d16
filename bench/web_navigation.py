"""Moving around the webmail in a real browser, with htmx and without it (webmail issue:
"pages work without JavaScript; htmx makes them faster").

The INBOX is make-corpus --count N --inbox-only (2 000 by default), imported with
`mailgate import`; the server runs only its `http` listener. Debian's chromium (headless,
through Playwright) signs in twice: once as shipped (JavaScript on, so htmx swaps each next
page into the one on screen) and once with JavaScript off (every click loads a whole page,
as before htmx). Each browser then makes the same round of clicks `--rounds` times: the
next page of the list, a message on it, back to the INBOX by its folder link, and the
Sent folder (after one untimed click: the first click after a page's load waits for the
browser to finish with that load). A click is timed from the click until the new page's
heading is on screen (for a whole load, until its `load` event; for a swap, until the new
content is in place).
Dovecot has no webmail: the reference is the same webmail without htmx.

    .venv/bin/python bench/web_navigation.py [--quick] [--count N] [--rounds R]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

USER = f"user1@{bl.DOMAIN}"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
CLICKS = ("next page", "open a message", "folder link: INBOX", "folder link: Sent")


def sign_in(page, url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/mail")
    page.fill("#address", USER)
    page.fill("#password", bl.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(url) + r"/mail$"))


def timed_click(page, selector: str, heading: str) -> float:  # type: ignore[no-untyped-def]
    """Milliseconds from the click to `heading` (a regular expression) in the page's h1."""
    started = time.perf_counter()
    with page.expect_navigation():
        page.click(selector)
    page.wait_for_function(
        "pattern => new RegExp(pattern).test(document.querySelector('main h1')?.textContent)",
        arg=heading)
    return (time.perf_counter() - started) * 1000


def one_round(page, round_number: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {
        "next page": timed_click(page, "nav.pager a[rel=next]", "INBOX"),
        "open a message": timed_click(
            page, f"table.messages tbody tr:nth-child({round_number % 40 + 1}) td.subject a",
            "."),
        "folder link: INBOX": timed_click(page, "nav.folders a[href='/mail?f=INBOX']", "INBOX"),
        "folder link: Sent": timed_click(page, "nav.folders a[href='/mail?f=Sent']", "Sent"),
    }


def drive(url: str, rounds: int, javascript: bool) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright
    times: dict[str, list[float]] = {name: [] for name in CLICKS}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(java_script_enabled=javascript)
        page = context.new_page()
        sign_in(page, url)
        page.goto(url + "/mail?f=INBOX")
        one_round(page, 0)  # untimed: caches, compiled statements, the style sheet
        for i in range(rounds):
            page.goto(url + "/mail?f=INBOX")
            # untimed: the first click after a page's load waits for the browser to finish
            # with that load (about 70 ms more here, with htmx or without)
            timed_click(page, "nav.folders a[href='/mail?f=INBOX']", "INBOX")
            for name, took in one_round(page, i + 1).items():
                times[name].append(took)
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 messages, 10 rounds")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    count, rounds = (500, 10) if args.quick else (args.count, args.rounds)
    with bl.workspace("web-navigation") as work:
        _, files, _ = bl.imported_inbox(work, count, USER)
        server = bl.MailgateServer(work / "mailgate", listeners=("http",)).start()
        try:
            url = f"http://127.0.0.1:{server.ports['http']}"
            # alternated, so that neither enjoys a quieter minute of the machine
            with_htmx: dict[str, list[float]] = {name: [] for name in CLICKS}
            without: dict[str, list[float]] = {name: [] for name in CLICKS}
            for _ in range(2):
                for into, javascript in ((with_htmx, True), (without, False)):
                    for name, values in drive(url, rounds // 2, javascript).items():
                        into[name].extend(values)
        finally:
            server.stop()
    rows, results = [], {}
    for name in CLICKS:
        fast, slow = bl.median(with_htmx[name]), bl.median(without[name])
        results[name] = {"htmx_p50_ms": fast, "whole_page_p50_ms": slow,
                         "htmx_p90_ms": bl.percentile(with_htmx[name], 90),
                         "whole_page_p90_ms": bl.percentile(without[name], 90)}
        rows.append([name, f"{fast:.1f}", f"{slow:.1f}", f"{bl.ratio(slow, fast):.2f}"])
    bl.print_table(f"webmail in chromium, {files}-message INBOX, {rounds} rounds (ms from click "
                   "to the new heading, medians)",
                   ["click", "htmx", "whole page", "whole/htmx"], rows)
    bl.write_results("web_navigation", {"quick": args.quick, "messages": files,
                                        "rounds": rounds, "results": results})


if __name__ == "__main__":
    main()

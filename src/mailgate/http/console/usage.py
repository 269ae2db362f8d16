"""The usage report: a chart of the accounts that used each door with each sign-in method
in the last 90 days, by department; the accounts still using POP or password sign-in; and
the whole report (`report usage`) as CSV."""

from __future__ import annotations

import asyncio
import csv
import io

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailgate.audit import usage_report
from mailgate.directory.authority import Actor
from mailgate.directory.errors import DirectoryError
from mailgate.http.console.charts import stacked_bars
from mailgate.http.console.rendering import HEADERS, PREFIX, render
from mailgate.http.console.staff import Console, refusal_of, staff_only
from mailgate.policy.catalogue import DISPLAY, METHODS, PROTOCOLS

DAYS = 90
NO_DEPARTMENT = "(no department)"
CSV_FIELDS = ("account", "protocol", "method", "successes", "failures", "last_success_at",
              "last_attempt_at")


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _chart(summary: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    pairs = [(p, m) for p in PROTOCOLS for m in METHODS
             if any(r["protocol"] == p and r["method"] == m for r in summary)]
    labels = {pair: f"{DISPLAY[pair[0]]} · {pair[1].replace('_', ' ')}" for pair in pairs}
    departments = sorted({str(r["department"] or NO_DEPARTMENT) for r in summary})
    values = {(labels[(str(r["protocol"]), str(r["method"]))],
               str(r["department"] or NO_DEPARTMENT)): int(r["accounts"])  # type: ignore[call-overload]
              for r in summary if (r["protocol"], r["method"]) in labels}
    return stacked_bars([labels[p] for p in pairs], departments, values)


def routes(console: Console) -> list[Route]:
    svc = console.svc

    async def report(request: Request, actor: Actor) -> Response:
        try:
            summary = await asyncio.to_thread(usage_report.recent_summary, svc, actor, DAYS)
            total, legacy = await asyncio.to_thread(usage_report.still_using_legacy, svc,
                                                    actor, DAYS)
        except DirectoryError as error:
            problem = refusal_of(error)
            return render(request, actor, "message.html", problem.status, section="usage",
                          title="Usage", detail=problem.message)
        return render(request, actor, "usage.html", section="usage", chart=_chart(summary),
                      days=DAYS, legacy=legacy, legacy_total=total, summary=summary)

    async def download(request: Request, actor: Actor) -> Response:
        try:
            rows = await asyncio.to_thread(usage_report.usage_rows, svc, actor)
        except DirectoryError as error:
            problem = refusal_of(error)
            return render(request, actor, "message.html", problem.status, section="usage",
                          title="Usage", detail=problem.message)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_FIELDS)
        for row in rows:
            writer.writerow([_cell(row[name]) for name in CSV_FIELDS])
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
            **HEADERS, "Content-Disposition": 'attachment; filename="mailgate-usage.csv"'})

    return [Route(PREFIX + "/usage", staff_only(console, report), methods=["GET"]),
            Route(PREFIX + "/usage.csv", staff_only(console, download), methods=["GET"])]

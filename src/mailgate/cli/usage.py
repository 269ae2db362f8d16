"""`mailgate audit` and `mailgate report usage`: what changed, who signed in, who uses what."""

from __future__ import annotations

import click

from mailgate.audit import reading
from mailgate.audit.usage_report import usage_rows
from mailgate.cli import output
from mailgate.cli.context import Context, fail, pass_ctx
from mailgate.safetext import json_text


@click.group("audit", invoke_without_command=True)
@click.option("--account", "address", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", type=int, default=0, help="Only the newest N entries.")
@click.pass_context
def audit(click_ctx: click.Context, address: str | None, as_json: bool, limit: int) -> None:
    """The audit trail: every change and sign-in, hash-chained."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx: Context = click_ctx.obj
    entries = reading.entries(ctx.service, ctx.actor(), address, limit)
    if as_json:
        output.print_json(entries)
        return
    for e in entries:
        extra = {k: v for k, v in e.items()
                 if k not in reading.CORE_KEYS and v}
        output.echo(f"{e['id']:>6} {e['at']} {e['actor']} ({e['role']}) {e['action']} "
                    f"{e['account'] or ''} {json_text(extra, indent=None)}")


@audit.command("verify")
@pass_ctx
def audit_verify(ctx: Context) -> None:
    """Check the hash chain; name every row that was changed, removed or reordered."""
    total, problems = reading.check_chain(ctx.service, ctx.actor())
    if problems:
        for p in problems:
            output.echo(str(p), err=True)
        first = problems[0].row_id
        fail(f"audit log verification failed: {len(problems)} problem(s)"
             + (f", first at row {first}" if first is not None else ""))
    output.echo(f"audit log intact: {total} entries, keyed hash chain verified")


@click.group("report")
def report() -> None:
    """Reports for the mail team."""


@report.command("usage")
@click.option("--json", "as_json", is_flag=True)
@click.option("--protocol", default=None, help="Only this door.")
@pass_ctx
def report_usage(ctx: Context, as_json: bool, protocol: str | None) -> None:
    """Per account x door x method: last use and counts ('who still uses POP?')."""
    rows = usage_rows(ctx.service, ctx.actor(), protocol)
    if as_json:
        output.print_json(rows)
        return
    if not rows:
        output.echo("no sign-ins recorded yet")
    for r in rows:
        output.echo(f"{r['account']:<32} {r['protocol']:<5} {r['method']:<12} "
                    f"ok={r['successes']:<6} failed={r['failures']:<6} "
                    f"last={r['last_success_at'] or '-'}")


def register(cli: click.Group) -> None:
    cli.add_command(audit)
    cli.add_command(report)

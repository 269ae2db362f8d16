"""`mailgate audit` and `mailgate report usage`: what changed, who signed in, who uses what."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from sqlalchemy import select

from mailgate.audit.verify import verify
from mailgate.cli import output
from mailgate.cli.context import Context, fail, pass_ctx
from mailgate.db.engine import check_integrity
from mailgate.db.schema import accounts
from mailgate.db.schema import audit_log as audit_table
from mailgate.db.schema import usage as usage_table
from mailgate.directory import authority
from mailgate.directory.views import normalise_address
from mailgate.safetext import json_text


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    authority.require_staff(ctx.actor(), "read the audit log")
    query = select(audit_table).order_by(audit_table.c.id)
    if address:
        query = query.where(audit_table.c.account == normalise_address(address))
    with ctx.service.reader.connect() as conn:
        rows = conn.execute(query).all()
    if limit:
        rows = rows[-limit:]
    entries = [{"id": r.id, "at": _when(r.at), "actor": r.actor, "role": r.role,
                "action": r.action, "account": r.account, **json.loads(r.details)}
               for r in rows]
    if as_json:
        output.print_json(entries)
        return
    for e in entries:
        extra = {k: v for k, v in e.items()
                 if k not in ("id", "at", "actor", "role", "action", "account") and v}
        output.echo(f"{e['id']:>6} {e['at']} {e['actor']} ({e['role']}) {e['action']} "
                    f"{e['account'] or ''} {json_text(extra, indent=None)}")


@audit.command("verify")
@pass_ctx
def audit_verify(ctx: Context) -> None:
    """Check the hash chain; name every row that was changed, removed or reordered."""
    check_integrity(ctx.service.reader)  # a damaged file first: its rows cannot be trusted
    with ctx.service.reader.connect() as conn:
        total, problems = verify(conn, ctx.service.audit_key)
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
    authority.require_staff(ctx.actor(), "read usage reports")
    query = (select(usage_table, accounts.c.address)
             .join(accounts, accounts.c.id == usage_table.c.account_id)
             .order_by(accounts.c.address, usage_table.c.protocol, usage_table.c.method))
    if protocol:
        from mailgate.policy.catalogue import normalise_protocol

        query = query.where(usage_table.c.protocol == normalise_protocol(protocol))
    with ctx.service.reader.connect() as conn:
        rows = [{"account": r.address, "protocol": r.protocol, "method": r.method,
                 "successes": r.successes, "failures": r.failures,
                 "last_success_at": _when(r.last_success_at) if r.last_success_at else None,
                 "last_attempt_at": _when(r.last_attempt_at)} for r in conn.execute(query)]
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

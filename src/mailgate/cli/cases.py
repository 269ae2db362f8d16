"""`mailgate case ...`: requests to open or close a door, and their decisions."""

from __future__ import annotations

import click

from mailgate.cli import output
from mailgate.cli.context import Context, on_off, pass_ctx
from mailgate.directory import cases
from mailgate.durations import parse_duration


@click.group("case")
def case() -> None:
    """Cases: open -> escalated -> approved | denied; staff add notes while it waits."""


@case.command("open")
@click.argument("address")
@click.argument("protocol")
@click.argument("want", type=click.Choice(["on", "off"]))
@click.option("--note", required=True)
@pass_ctx
def case_open(ctx: Context, address: str, protocol: str, want: str, note: str) -> None:
    case_id = cases.open_case(ctx.service, ctx.actor(), address, protocol, on_off(want), note)
    output.echo(f"opened case #{case_id}: {protocol} {want} for {address.strip().lower()}")


@case.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def case_list(ctx: Context, as_json: bool) -> None:
    found = cases.list_cases(ctx.service, ctx.actor())
    if as_json:
        output.print_json([c.as_json() for c in found])
        return
    if not found:
        output.echo("no cases")
    for c in found:
        output.echo(f"#{c.id}  {c.status:<9} {c.account}  {c.protocol} {c.want}  "
                    f"by {c.opened_by}: {c.note}")


@case.command("escalate")
@click.argument("case_id", type=int)
@pass_ctx
def case_escalate(ctx: Context, case_id: int) -> None:
    cases.escalate(ctx.service, ctx.actor(), case_id)
    output.echo(f"case #{case_id} escalated to the mail team")


@case.command("note")
@click.argument("case_id", type=int)
@click.option("--note", required=True, help="What the help desk learned since it opened.")
@pass_ctx
def case_note(ctx: Context, case_id: int, note: str) -> None:
    cases.add_note(ctx.service, ctx.actor(), case_id, note)
    output.echo(f"note added to case #{case_id}")


@case.command("approve")
@click.argument("case_id", type=int)
@click.option("--for", "duration", default=None, help="Time-limited, e.g. 7d; reverts itself.")
@pass_ctx
def case_approve(ctx: Context, case_id: int, duration: str | None) -> None:
    seconds = parse_duration(duration) if duration is not None else None
    cases.approve(ctx.service, ctx.actor(), case_id, seconds)
    output.echo(f"case #{case_id} approved and applied"
                + (f" for {duration}" if duration is not None else ""))


@case.command("deny")
@click.argument("case_id", type=int)
@pass_ctx
def case_deny(ctx: Context, case_id: int) -> None:
    cases.deny(ctx.service, ctx.actor(), case_id)
    output.echo(f"case #{case_id} denied")


def register(cli: click.Group) -> None:
    cli.add_command(case)

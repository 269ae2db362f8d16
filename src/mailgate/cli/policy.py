"""`mailgate protocol|department|plan|role ...`: who may use which door."""

from __future__ import annotations

from dataclasses import asdict

import click

from mailgate.cli import output
from mailgate.cli.context import Context, on_off, pass_ctx
from mailgate.directory import accounts, doors, sending
from mailgate.durations import parse_duration

ON_OFF = click.Choice(["on", "off"])


@click.group("protocol")
def protocol() -> None:
    """Open or close one door of one account."""


@protocol.command("set")
@click.argument("address")
@click.argument("name", metavar="PROTOCOL")
@click.argument("value", type=ON_OFF)
@click.option("--reason", default="", help="Why (kept in the audit log).")
@click.option("--for", "duration", default=None, help="Only for this long, e.g. 12h, 7d.")
@pass_ctx
def protocol_set(ctx: Context, address: str, name: str, value: str, reason: str,
                 duration: str | None) -> None:
    """Turn PROTOCOL on or off for ADDRESS (takes effect within a second).

    A door the account's department denies cannot be turned on here: the department's policy
    must change. Turning it off is allowed and kept for when that policy is lifted."""
    seconds = parse_duration(duration) if duration is not None else None
    door = doors.set_protocol(ctx.service, ctx.actor(), address, name, on_off(value), reason,
                              seconds)
    until = f" for {duration}" if duration is not None else ""
    also = " (its department denies it too; this setting keeps it off if that is lifted)" \
        if door.reason == "department_policy" else ""
    output.echo(f"{name} {value} for {address.strip().lower()}{until}{also}")
    if door.allowed != on_off(value):
        output.echo(f"note: the door stays closed: {door.detail}", err=True)


@click.group("department")
def department() -> None:
    """Departments and their locked per-door policy."""


@department.command("create")
@click.argument("name")
@pass_ctx
def department_create(ctx: Context, name: str) -> None:
    doors.create_department(ctx.service, ctx.actor(), name)
    output.echo(f"created department {name}")


@department.command("policy")
@click.argument("name")
@click.argument("proto", metavar="PROTOCOL")
@click.argument("value", type=click.Choice(["deny", "inherit"]))
@pass_ctx
def department_policy(ctx: Context, name: str, proto: str, value: str) -> None:
    """deny: nobody can open PROTOCOL for the department's accounts; inherit: lift that."""
    doors.set_department_policy(ctx.service, ctx.actor(), name, proto, value == "deny")
    output.echo(f"department {name}: {proto} {value}")


@click.group("plan")
def plan() -> None:
    """Plans: the default of each door for the accounts on them."""


@plan.command("set")
@click.argument("name", metavar="PLAN")
@click.argument("proto", metavar="PROTOCOL")
@click.argument("value", type=ON_OFF)
@click.option("--existing", type=click.Choice(["keep", "follow"]), default=None,
              help="keep: existing accounts keep today's value; follow: they take the new one.")
@click.option("--dry-run", is_flag=True, help="Only report what would change.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def plan_set(ctx: Context, name: str, proto: str, value: str, existing: str | None,
             dry_run: bool, as_json: bool) -> None:
    """Change PLAN's default for PROTOCOL; says first how many accounts it touches."""
    change = doors.plan_set(ctx.service, ctx.actor(), name, proto, on_off(value), existing,
                            dry_run)
    if as_json:
        output.print_json({"plan": change.plan, "protocol": change.protocol, "old": change.old,
                    "new": change.new, "affected": change.affected,
                    "used_last_90_days": change.used_recently, "applied": change.applied,
                    "existing": change.existing})
        return
    output.echo(change.summary())
    if change.applied:
        output.echo(f"applied (existing accounts: {change.existing or 'none affected'})")
    elif dry_run:
        output.echo("dry run: nothing changed")


@plan.command("sending")
@click.argument("name", metavar="PLAN")
@click.option("--messages-per-hour", metavar="N|none", default=None,
              help="Messages an account may submit in an hour.")
@click.option("--recipients-per-hour", metavar="N|none", default=None,
              help="Recipients, all messages counted, in an hour.")
@click.option("--sent-copy", type=ON_OFF, default=None,
              help="off: no copy in Sent (for clients that save their own).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def plan_sending(ctx: Context, name: str, messages_per_hour: str | None,
                 recipients_per_hour: str | None, sent_copy: str | None,
                 as_json: bool) -> None:
    """Show or change PLAN's sending limits and Sent copy (past a limit: 451 4.7.1)."""
    before, after = sending.set_plan(
        ctx.service, ctx.actor(), name, messages_per_hour=messages_per_hour,
        recipients_per_hour=recipients_per_hour,
        sent_copy=None if sent_copy is None else on_off(sent_copy))
    if as_json:
        output.print_json({"plan": name, **asdict(after)})
        return

    def limit(value: int | None) -> str:
        return sending.NO_LIMIT if value is None else str(value)

    output.echo(f"plan {name}: {limit(after.messages_per_hour)} messages and "
                f"{limit(after.recipients_per_hour)} recipients per hour, Sent copy "
                f"{'on' if after.sent_copy else 'off'}"
                + ("" if after != before else " (unchanged)"))


@click.group("methods")
def methods() -> None:
    """Which sign-in methods a door accepts ("modern auth only" = no password)."""


@methods.command("set")
@click.argument("scope", type=click.Choice(["plan", "department", "account"]))
@click.argument("name")
@click.argument("proto", metavar="PROTOCOL")
@click.argument("allowed", metavar="METHODS|all")
@pass_ctx
def methods_set(ctx: Context, scope: str, name: str, proto: str, allowed: str) -> None:
    """e.g. `methods set department Physics imap app_password,oauth`; `all` lifts it."""
    chosen = None if allowed == "all" else [m for m in allowed.split(",") if m]
    doors.set_methods(ctx.service, ctx.actor(), scope, name, proto, chosen)
    output.echo(f"{scope} {name}: {proto} accepts {allowed}")


@click.group("network")
def network() -> None:
    """Client networks a door accepts sign-ins from."""


@network.command("set")
@click.argument("proto", metavar="PROTOCOL")
@click.argument("networks", nargs=-1)
@pass_ctx
def network_set(ctx: Context, proto: str, networks: tuple[str, ...]) -> None:
    """e.g. `network set pop 10.0.0.0/8 192.0.2.0/24`; no networks: anywhere."""
    doors.set_networks(ctx.service, ctx.actor(), proto, list(networks))
    output.echo(f"{proto}: sign-ins from {' '.join(networks) or 'anywhere'}")


@click.group("role")
def role() -> None:
    """Staff roles: helpdesk, admin, dept-admin."""


@role.command("grant")
@click.argument("address")
@click.argument("name", metavar="ROLE", type=click.Choice(["helpdesk", "admin", "dept-admin"]))
@click.option("--department", default=None)
@pass_ctx
def role_grant(ctx: Context, address: str, name: str, department: str | None) -> None:
    accounts.grant_role(ctx.service, ctx.actor(), address, name, department)
    output.echo(f"{address.strip().lower()} is now {name}"
                + (f" of {department}" if department else ""))


def register(cli: click.Group) -> None:
    for group in (protocol, department, plan, methods, network, role):
        cli.add_command(group)




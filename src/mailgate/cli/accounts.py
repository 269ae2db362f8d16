"""`mailgate account ...`: create, show, list and move accounts through their lifecycle."""

from __future__ import annotations

import click

from mailgate.cli import output
from mailgate.cli.context import Context, pass_ctx, read_password_stdin
from mailgate.directory import accounts, listing
from mailgate.policy.catalogue import SERVED


@click.group("account")
def account() -> None:
    """Accounts and their lifecycle."""


@account.command("create")
@click.argument("address")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--name", default="", help="Display name.")
@click.option("--department", default=None)
@click.option("--plan", default="standard", show_default=True)
@click.option("--pending", is_flag=True, help="Create with mail services not yet activated.")
@pass_ctx
def create(ctx: Context, address: str, password_stdin: bool, name: str,
           department: str | None, plan: str, pending: bool) -> None:
    """Create an account (active, on plan 'standard', unless told otherwise)."""
    password = read_password_stdin() if password_stdin else None
    accounts.create(ctx.service, ctx.actor(), address, password, name, department, plan,
                    pending)
    output.echo(f"created {address.strip().lower()}")


@account.command("show")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show(ctx: Context, address: str, as_json: bool) -> None:
    """Every door of an account: open or closed, why, and which rule decided."""
    rep = listing.show_account(ctx.service, ctx.actor(), address)
    if as_json:
        output.print_json(rep.as_json())
        return
    output.styled((rep.address, "bold"), f" {rep.name}".rstrip())
    output.echo(f"state: {rep.state}   plan: {rep.plan}   department: {rep.department or '-'}"
                + (f"   roles: {', '.join(rep.roles)}" if rep.roles else ""))
    output.echo(f"mfa: {rep.mfa.summary()}")
    output.table(("door", "open", "reason", "rule", "why"), [
        (proto + ("" if proto in SERVED else " (not served yet)"), "yes" if d.allowed else "no",
         d.reason, d.source + (" (locked)" if d.locked else ""), d.detail)
        for proto, d in rep.decisions.items()])


@account.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_(ctx: Context, as_json: bool) -> None:
    """All accounts with their state, plan and department."""
    rows = listing.list_accounts(ctx.service, ctx.actor())
    if as_json:
        output.print_json(rows)
        return
    output.table(("address", "name", "state", "plan", "department"),
                 [(r["address"], r["name"], r["state"], r["plan"], r["department"] or "-")
                  for r in rows])


@account.command("password")
@click.argument("address")
@click.option("--password-stdin", is_flag=True, required=True)
@pass_ctx
def password(ctx: Context, address: str, password_stdin: bool) -> None:
    """Set a new password; ends the live sessions that signed in with the old one."""
    ended = accounts.set_password(ctx.service, ctx.actor(), address, read_password_stdin())
    output.echo(f"password changed for {address.strip().lower()}; ended {ended} live "
                f"session{'' if ended == 1 else 's'}")


@account.command("compromise")
@click.argument("address")
@click.option("--reason", required=True)
@pass_ctx
def compromise(ctx: Context, address: str, reason: str) -> None:
    """Close every door now, end live sessions, revoke app passwords and tokens."""
    accounts.compromise(ctx.service, ctx.actor(), address, reason)
    output.echo(f"{address.strip().lower()} is compromised: every door is closed and live "
                "sessions are being ended")


@account.command("restore")
@click.argument("address")
@click.option("--password-stdin", is_flag=True, required=True)
@click.option("--note", required=True, help="Who verified the owner's identity, and how.")
@pass_ctx
def restore(ctx: Context, address: str, password_stdin: bool, note: str) -> None:
    """Back to active with a new password; door settings reset to the plan's defaults."""
    accounts.restore(ctx.service, ctx.actor(), address, read_password_stdin(), note)
    output.echo(f"{address.strip().lower()} restored: active, doors back to plan defaults")


@account.command("deactivate")
@click.argument("address")
@click.option("--now", "now_", is_flag=True, help="Skip the grace period.")
@pass_ctx
def deactivate(ctx: Context, address: str, now_: bool) -> None:
    """Close every door; after the grace period (or --now) inbound mail is refused too."""
    state = accounts.deactivate(ctx.service, ctx.actor(), address, now_)
    output.echo(f"{address.strip().lower()} is {state}")


@account.command("activate")
@click.argument("address")
@pass_ctx
def activate(ctx: Context, address: str) -> None:
    """Activate a pending account, or cancel a deactivation in progress."""
    accounts.activate(ctx.service, ctx.actor(), address)
    output.echo(f"{address.strip().lower()} is active")


def register(cli: click.Group) -> None:
    cli.add_command(account)




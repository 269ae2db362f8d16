"""`mailgate mfa ...`: require a second factor per plan or department, see an account's,
and reset it for an owner who lost their authenticator (SPEC §6)."""

from __future__ import annotations

import click

from mailgate.cli import output
from mailgate.cli.context import Context, on_off, pass_ctx
from mailgate.directory import mfa


@click.group("mfa")
def mfa_group() -> None:
    """Multi-factor authentication (TOTP, security keys) on interactive sign-in."""


@mfa_group.command("require")
@click.argument("scope", type=click.Choice(mfa.SCOPES))
@click.argument("name")
@click.argument("value", type=click.Choice(["on", "off"]))
@pass_ctx
def require(ctx: Context, scope: str, name: str, value: str) -> None:
    """Require MFA (on) of every account of a plan or department, or stop (off); audited."""
    changed = mfa.set_required(ctx.service, ctx.actor(), scope, name, on_off(value))
    state = "required" if on_off(value) else "not required"
    output.echo(f"MFA is {state} by {scope} {name}" + ("" if changed else " (unchanged)"))


@mfa_group.command("status")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def status(ctx: Context, address: str, as_json: bool) -> None:
    """Whether ADDRESS must use MFA, and what it has enrolled."""
    found, state = mfa.status(ctx.service, ctx.actor(), address)
    if as_json:
        output.print_json({"address": found, **state.as_json()})
        return
    enrolment = state.enrolment
    output.echo(f"{found}: MFA {state.summary()}")
    confirmed = enrolment.totp_confirmed_at
    output.echo(f"totp: {'since ' + output.when(confirmed) if confirmed else 'no'}")
    if enrolment.authenticators:
        output.table(("id", "security key", "registered", "last used"),
                     [(a.id, a.label or "-", output.when(a.created_at), output.when(a.last_used_at))
                      for a in enrolment.authenticators])


@mfa_group.command("reset")
@click.argument("address")
@click.option("--reason", required=True, help="Who asked, and how their identity was checked.")
@pass_ctx
def reset(ctx: Context, address: str, reason: str) -> None:
    """Remove every second factor of ADDRESS (it enrols again at its next sign-in); audited."""
    removed = mfa.reset(ctx.service, ctx.actor(), address, reason)
    output.echo(f"MFA of {address.strip().lower()} reset: removed TOTP {removed['totp']}, "
                f"security keys {removed['webauthn']}, unused recovery codes "
                f"{removed['recovery_codes']}")


def register(cli: click.Group) -> None:
    cli.add_command(mfa_group)

"""`mailgate dns DOMAIN`: the DNS records clients use to find this server's doors — RFC 6186
SRV records for IMAP, POP3 and submission (a door closed for new accounts, or whose listener
is off, published as not provided: target `.`), `_autodiscover._tcp`, and CNAME hints for the
`autoconfig.` and `autodiscover.` names — as zone-file lines (or --json)."""

from __future__ import annotations

import click

from mailgate.cli import output
from mailgate.cli.context import Context, pass_ctx
from mailgate.clientconfig import dns


@click.command("dns")
@click.argument("domain")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def dns_records(ctx: Context, domain: str, as_json: bool) -> None:
    """DNS records (RFC 6186 SRV, autoconfig/autodiscover hints) for DOMAIN's clients."""
    records = dns.client_records(ctx.service, domain)
    if as_json:
        output.print_json(records)
        return
    host = str(ctx.service.settings.get("server", "hostname"))
    output.echo(f"; client service records for {domain.rstrip('.')} (RFC 6186), served by "
                f"{host}; a door closed for new accounts is published as not provided (.)")
    for record in records:
        output.echo(dns.zone_line(record))
    output.echo(f"; autoconfig.{domain.rstrip('.')} and autodiscover.{domain.rstrip('.')} must "
                f"reach the http listener over https on port {dns.HTTPS_PORT} (a reverse proxy)")


def register(cli: click.Group) -> None:
    cli.add_command(dns_records)

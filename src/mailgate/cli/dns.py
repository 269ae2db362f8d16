"""`mailgate dns DOMAIN`: the DNS records clients use to find this server's doors — RFC 6186
SRV records for IMAP, POP3 and submission (a door closed for new accounts, or whose listener
is off, published as not provided: target `.`), `_autodiscover._tcp`, and CNAME hints for the
`autoconfig.` and `autodiscover.` names — as zone-file lines (or --json)."""

from __future__ import annotations

import re

import click

from mailgate.cli import output
from mailgate.cli.context import Context, fail, pass_ctx
from mailgate.clientconfig import dns
from mailgate.clientconfig.endpoints import offered

DOMAIN = re.compile(r"^(?=.{1,253}\.?$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
                    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$")
HTTPS_PORT = 443


@click.command("dns")
@click.argument("domain")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def dns_records(ctx: Context, domain: str, as_json: bool) -> None:
    """DNS records (RFC 6186 SRV, autoconfig/autodiscover hints) for DOMAIN's clients."""
    if not DOMAIN.match(domain):
        fail(f"invalid domain '{domain}': expected a name such as example.org")
    svc = ctx.service
    host = str(svc.settings.get("server", "hostname"))
    records = dns.srv_records(domain, offered(svc, None)) + \
        dns.hint_records(domain, host, HTTPS_PORT)
    if as_json:
        output.print_json(records)
        return
    output.echo(f"; client service records for {domain.rstrip('.')} (RFC 6186), served by "
                f"{host}; a door closed for new accounts is published as not provided (.)")
    for record in records:
        output.echo(dns.zone_line(record))
    output.echo(f"; autoconfig.{domain.rstrip('.')} and autodiscover.{domain.rstrip('.')} must "
                f"reach the http listener over https on port {HTTPS_PORT} (a reverse proxy)")


def register(cli: click.Group) -> None:
    cli.add_command(dns_records)

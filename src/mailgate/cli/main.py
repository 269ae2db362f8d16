"""`mailgate [--data DIR] [--as ADDRESS] COMMAND`: the entry point and its error handling."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from mailgate.audit.key import AuditKeyError
from mailgate.auth.key_file import KeyFileError
from mailgate.auth.keys import SigningKeyError
from mailgate.cli import (
    accounts,
    api_keys,
    cases,
    credentials,
    dkim,
    dns,
    mail,
    mfa,
    oauth,
    output,
    policy,
    queue,
    server,
    usage,
)
from mailgate.cli.context import Context, data_dir_default
from mailgate.config import ConfigError
from mailgate.db.engine import DatabaseDamaged
from mailgate.directory.errors import DirectoryError
from mailgate.policy.catalogue import UnknownProtocol
from mailgate.service import NotInitialised


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None,
              help="Data directory (default: $MAILGATE_DATA, else ./mailgate-data).")
@click.option("--as", "acting_as", metavar="ADDRESS", default=None,
              help="Act as this staff account, with its role's limits.")
@click.version_option(package_name="mailgate")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, acting_as: str | None) -> None:
    """mailgate: a mail service whose every client door is governed by policy."""
    ctx.obj = Context(data_dir or data_dir_default(), acting_as)


for module in (server, accounts, policy, cases, mail, queue, usage, dkim, credentials,
               oauth, mfa, api_keys, dns):
    module.register(cli)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        output.echo("mailgate: aborted", err=True)
        sys.exit(1)
    except click.UsageError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        output.echo(f"mailgate: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (DirectoryError, UnknownProtocol, NotInitialised, ConfigError, AuditKeyError,
            ValueError, DatabaseDamaged, SigningKeyError, KeyFileError) as exc:
        output.echo(f"mailgate: {exc}", err=True)
        sys.exit(1)
    except OperationalError as exc:
        output.echo(f"mailgate: the database is unavailable: {str(exc.orig).splitlines()[0]}",
                    err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)

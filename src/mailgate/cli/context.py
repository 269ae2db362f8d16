"""What every CLI command shares: the data directory, the acting account, output helpers."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import click

from mailgate.cli import output
from mailgate.directory.authority import Actor
from mailgate.directory.views import load_actor
from mailgate.service import NotInitialised, Service


@dataclass
class Context:
    data_dir: Path
    acting_as: str | None
    _service: Service | None = None

    @property
    def service(self) -> Service:
        if self._service is None:
            if not self.data_dir.is_dir():
                raise NotInitialised(f"no mailgate data in {self.data_dir}: run "
                                     f"'mailgate --data {self.data_dir} init' first")
            self._service = Service.open(self.data_dir)
        return self._service

    def actor(self) -> Actor:
        with self.service.reader.connect() as conn:
            return load_actor(conn, self.acting_as)


def data_dir_default() -> Path:
    return Path(os.environ.get("MAILGATE_DATA") or "./mailgate-data")


pass_ctx = click.make_pass_decorator(Context)


def fail(message: str, code: int = 1) -> NoReturn:
    output.echo(f"mailgate: {message}", err=True)
    sys.exit(code)


def read_password_stdin() -> str:
    data = sys.stdin.readline()
    password = data.rstrip("\r\n")
    if not password:
        fail("no password on standard input")
    return password


def on_off(value: str) -> bool:
    return value == "on"

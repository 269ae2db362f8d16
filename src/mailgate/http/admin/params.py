"""Path parameters shared by the routers, with the examples the docs page (and schemathesis)
starts from."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

Address = Annotated[str, Path(max_length=254, description="local-part@domain",
                              examples=["alice@example.test"])]
Protocol = Annotated[str, Path(max_length=32, description="a door or an alias: imap, pop3, ...",
                               examples=["pop"])]
Identifier = Annotated[int, Path(ge=1, le=2**31 - 1, examples=[1])]

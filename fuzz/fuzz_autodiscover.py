"""atheris fuzz target for the Autodiscover POX request parser
(`clientconfig.autodiscover.parse_request`): any bytes, and any bytes placed where a real
request carries its address and schema. Every input ends in an address (one line, at most
320 characters, with an `@`) or `BadRequest`; nothing else is raised.

    .venv/bin/python fuzz/fuzz_autodiscover.py -max_total_time=60
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from mailgate.clientconfig.autodiscover import BadRequest, parse_request

TEMPLATE = (b'<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/'
            b'autodiscover/outlook/requestschema/2006"><Request><EMailAddress>%s</EMailAddress>'
            b'<AcceptableResponseSchema>%s</AcceptableResponseSchema></Request></Autodiscover>')


def check(body: bytes) -> None:
    try:
        address = parse_request(body)
    except BadRequest:
        return
    assert "@" in address and 0 < len(address) <= 320, address
    assert address == address.strip(), address


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    if provider.ConsumeBool():
        check(provider.ConsumeBytes(5000))
    else:
        address, schema = provider.ConsumeBytes(400), provider.ConsumeBytes(200)
        check(TEMPLATE % (address, schema))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

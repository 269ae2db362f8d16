"""atheris fuzz target for the SASL decoders (`auth.sasl`): PLAIN, LOGIN, OAUTHBEARER and
XOAUTH2, fed arbitrary responses with and without an initial response, arbitrary lines that
need not be base64, and refused bearer exchanges with any dummy reply. The properties are
those of tests/sasl_properties.py, shared with the hypothesis tests: every exchange ends in a
challenge, credentials or a rejection, or a SaslError whose text is one printable line.

    .venv/bin/python fuzz/fuzz_sasl.py -max_total_time=60
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

with atheris.instrument_imports():
    import sasl_properties as props


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    name = props.NAMES[provider.ConsumeIntInRange(0, len(props.NAMES) - 1)]
    choice = provider.ConsumeIntInRange(0, 2)
    if choice == 0:
        count = provider.ConsumeIntInRange(1, 4)
        responses = [provider.ConsumeBytes(provider.ConsumeIntInRange(0, 300))
                     for _ in range(count)]
        props.check_exchange(name, responses, provider.ConsumeBool())
    elif choice == 1:
        props.check_raw_line(name, provider.ConsumeUnicode(300))
    else:
        bearer = "OAUTHBEARER" if provider.ConsumeBool() else "XOAUTH2"
        props.check_token_error(bearer, provider.ConsumeBytes(300), provider.ConsumeBytes(8))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

"""atheris fuzz target for the parsing the SMTP doors do themselves.

Envelope addresses (`protocols.smtp.addresses`: character checks, the shown form,
sub-address candidates), the From: and envelope-sender checks (`senders`), the trace
headers (`trace`), and the Authentication-Results side of `mail_auth` (removing fields that
claim our authserv-id, quoting values, reading DMARC records, the DNS tree walk, the From:
domain), BDAT's argument and line count (`chunking`), and DSN parameters (`dsn`). The
properties checked are those of tests/smtp_properties.py, shared with the hypothesis tests:
nothing raises, replies are one line with an enhanced code, headers we write are clean CRLF
lines, removal is idempotent and never touches the body, DSN parameters are taken or
refused and read back the same.

    .venv/bin/python fuzz/fuzz_smtp.py -max_total_time=60
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

with atheris.instrument_imports():
    import smtp_properties as props


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    choice = provider.ConsumeIntInRange(0, 4)
    if choice == 0:
        props.check_address(provider.ConsumeUnicode(400), provider.ConsumeBool())
    elif choice == 1:
        props.check_message(provider.ConsumeBytes(4000))
    elif choice == 2:
        props.check_auth_text(provider.ConsumeUnicodeNoSurrogates(400))
    elif choice == 3:
        props.check_bdat(provider.ConsumeUnicodeNoSurrogates(40), provider.ConsumeBytes(4000))
    else:
        props.check_dsn(provider.ConsumeUnicodeNoSurrogates(300))


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

"""Atheris fuzz target for mailgate.mime: to_crlf + parse must never raise.

Run:  .venv/bin/python fuzz/fuzz_mime.py -max_total_time=60 [corpus_dir ...]
(seed it with the messages of shared/testdata/mime for deeper coverage).
Besides exceptions it checks the offsets and the line endings.
"""

import sys

import atheris

with atheris.instrument_imports():
    from mailgate.mime import parse, split_mbox, strip_from_line, to_crlf


def TestOneInput(data: bytes) -> None:
    split_mbox(data)
    raw = to_crlf(strip_from_line(data))
    unpaired = raw.replace(b"\r\n", b"")
    if b"\r" in unpaired or b"\n" in unpaired or to_crlf(raw) != raw:
        raise AssertionError("to_crlf left a bare CR or LF or is not idempotent")
    parsed = parse(raw)
    for key, (header_start, body_start, end) in parsed.parts.items():
        if not 0 <= header_start <= body_start <= end <= parsed.size:
            raise AssertionError(f"bad offsets for part {key!r}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()

"""A runner for Dovecot imaptest's scripted compliance tests (test data in
../shared/testdata/imaptest): script parser, reply matcher, raw IMAP client and runner CLI.

Text is handled as latin-1 `str` throughout, so every byte (NULs and 8-bit data in binary
literals included) maps to exactly one character and back.
"""

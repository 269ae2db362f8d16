"""TOTP codes and the MFA key, without a database: what a user types, the time window, the
enrolment QR code, and what a copy of the stored secret is worth without DIR/mfa.key."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailgate.auth import totp
from mailgate.auth.key_file import KeyFileError
from mailgate.auth.mfa_key import MfaKey

T0 = 1_750_000_000.0


@given(st.text(max_size=40))
def test_parse_code_accepts_six_digits_and_nothing_else(typed: str) -> None:
    code = totp.parse_code(typed)
    if code is not None:
        assert len(code) == 6 and code.isascii() and code.isdigit()
        assert "".join(ch for ch in typed if ch not in " -\t") == code


@given(st.integers(min_value=0, max_value=999_999), st.sampled_from(["", " ", "-", "  "]))
def test_parse_code_ignores_separators(number: int, separator: str) -> None:
    digits = f"{number:06d}"
    assert totp.parse_code(f" {digits[:3]}{separator}{digits[3:]} ") == digits


@pytest.mark.parametrize("typed", ["12345", "1234567", "12a456", "١٢٣٤٥٦", "", "1" * 40])
def test_parse_code_refuses(typed: str) -> None:
    assert totp.parse_code(typed) is None


def test_one_step_either_side_and_no_further() -> None:
    secret = totp.new_secret()
    app = pyotp.TOTP(secret)
    step = totp.step_at(T0)
    for offset in (-1, 0, 1):
        code = app.at(T0 + offset * 30)
        assert totp.matching_step(secret, code, T0) == step + offset
    for offset in (-3, -2, 2, 3):
        assert totp.matching_step(secret, app.at(T0 + offset * 30), T0) is None


def test_secret_has_160_bits_and_the_uri_names_account_and_issuer() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32 and secret != totp.new_secret()
    uri = totp.provisioning_uri(secret, "ann@example.test", "example.test")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parse_qs(parts.query) == {"secret": [secret], "issuer": ["example.test"]}
    assert pyotp.parse_uri(uri).at(T0) == pyotp.TOTP(secret).at(T0)


def test_qr_code_is_inline_svg() -> None:
    svg = totp.qr_svg(totp.provisioning_uri(totp.new_secret(), "ann@example.test", "x"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<?xml" not in svg and "<script" not in svg


def test_sealed_secret_needs_the_key_file_and_its_account(tmp_path: Path) -> None:
    key = MfaKey(tmp_path)
    secret = totp.new_secret()
    sealed = key.seal(7, secret)
    assert secret.encode() not in sealed and len(sealed) > len(secret)
    assert key.unseal(7, sealed) == secret
    assert stat.S_IMODE(os.stat(tmp_path / "mfa.key").st_mode) == 0o600
    with pytest.raises(KeyFileError, match="does not open"):
        key.unseal(8, sealed)  # moved to another account in the database
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(KeyFileError, match="does not open"):
        MfaKey(other).unseal(7, sealed)  # a database copy without this data directory's key


def test_recovery_mac_ignores_dashes_and_case_and_user_handle_is_stable(tmp_path: Path) -> None:
    key = MfaKey(tmp_path)
    assert key.recovery_mac("abcd-efgh-ijkm-npqr") == key.recovery_mac("ABCDEFGHIJKMNPQR")
    (tmp_path / "other").mkdir()
    other = MfaKey(tmp_path / "other")
    assert other.recovery_mac("abcd-efgh-ijkm-npqr") != key.recovery_mac("abcd-efgh-ijkm-npqr")
    assert key.user_handle(1) == MfaKey(tmp_path).user_handle(1) != key.user_handle(2)
    assert len(key.user_handle(1)) == 16


def test_a_damaged_key_file_is_one_line_for_the_operator(tmp_path: Path) -> None:
    (tmp_path / "mfa.key").write_text("not a key\n")
    with pytest.raises(KeyFileError, match="restore it from a backup"):
        MfaKey(tmp_path).recovery_mac("x")

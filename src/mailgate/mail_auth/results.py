"""The Authentication-Results header (RFC 8601): writing ours, and removing any that arrive
claiming to be ours (only this server may speak for its authserv-id, RFC 8601 §5)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailgate.mail_auth.dkimcheck import DkimResult
from mailgate.mail_auth.dmarc import DmarcResult
from mailgate.mail_auth.spfcheck import SpfResult

FIELD = b"authentication-results"
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+(?:@[A-Za-z0-9.\-]+)?$")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_FIELD_NAME = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:")


def value(text: str) -> str:
    """A property value as RFC 8601 writes it: bare when it can be, else a quoted string."""
    text = _UNSAFE.sub("?", text)[:320]
    if _PLAIN_VALUE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def header(authserv_id: str, spf: SpfResult | None, dkim: Sequence[DkimResult],
           dmarc: DmarcResult | None) -> bytes:
    """`Authentication-Results: id; spf=...; dkim=...; dmarc=...` folded one result a line."""
    results = []
    if spf is not None:
        results.append(f"spf={spf.result} {spf.identity}={value(spf.value or '<>')}")
    for signature in dkim:
        line = f"dkim={signature.result}"
        if signature.domain:
            line += f" header.d={value(signature.domain)}"
        if signature.selector:
            line += f" header.s={value(signature.selector)}"
        if signature.b:
            line += f" header.b={value(signature.b)}"
        results.append(line)
    if not dkim:
        results.append("dkim=none")
    if dmarc is not None:
        policy = f" (p={dmarc.policy})" if dmarc.policy else ""
        results.append(f"dmarc={dmarc.result}{policy} header.from={value(dmarc.from_domain)}"
                       if dmarc.from_domain else f"dmarc={dmarc.result}")
    text = f"Authentication-Results: {value(authserv_id)};\r\n\t" + ";\r\n\t".join(results)
    return (text + "\r\n").encode("utf-8")


def authserv_id_of(field_value: bytes) -> str:
    """The authserv-id an Authentication-Results value starts with (comments skipped)."""
    text = field_value.decode("utf-8", "replace").strip()
    while text.startswith("("):
        text = _after_comment(text)
    if text.startswith('"'):
        return text[1:].split('"', 1)[0].lower()
    return re.split(r"[\s;(]", text, maxsplit=1)[0].lower()


def _after_comment(text: str) -> str:
    """What follows the (possibly nested) comment `text` starts with ("" if unclosed)."""
    depth = 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return text[index + 1:].lstrip()
    return ""


def without_ours(content: bytes, authserv_id: str) -> bytes:
    """`content` less the header fields Authentication-Results naming `authserv_id`."""
    ours = authserv_id.lower()
    lines = [line + b"\n" for line in content.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    kept: list[bytes] = []
    dropping = False
    for index, line in enumerate(lines):
        if line in (b"\r\n", b"\n"):  # the end of the header section
            kept.extend(lines[index:])
            break
        if line[:1] in (b" ", b"\t"):  # a continuation of the field before
            if not dropping:
                kept.append(line)
            continue
        match = _FIELD_NAME.match(line)
        dropping = bool(match and match[1].lower() == FIELD
                        and authserv_id_of(_field_value(lines, index)) == ours)
        if not dropping:
            kept.append(line)
    return b"".join(kept)


def _field_value(lines: list[bytes], index: int) -> bytes:
    """The unfolded value of the field that starts at lines[index]."""
    parts = [lines[index].split(b":", 1)[1]]
    for line in lines[index + 1:]:
        if line[:1] not in (b" ", b"\t"):
            break
        parts.append(line)
    return b"".join(part.rstrip(b"\r\n") for part in parts)

"""An Apple configuration profile (`.mobileconfig`) for one account: a `com.apple.mail.managed`
payload with the account's open incoming door (IMAP preferred, else POP) and SMTP sending,
implicit TLS preferred. No password is put in it: the device asks for one (an app password)
when the profile is installed. The profile is unsigned; its identifiers are derived from the
host and the address, so installing it again replaces the earlier one."""

from __future__ import annotations

import plistlib
import uuid

from mailgate.clientconfig.endpoints import Endpoint, preferred


class NothingToConfigure(ValueError):
    """No open incoming door, or no open sending door: a mail account cannot be made."""


def _reverse(host: str) -> str:
    return ".".join(reversed(host.split("."))) or "mailgate"


def profile(address: str, name: str, found: list[Endpoint]) -> bytes:
    incoming = preferred(found, "imap") or preferred(found, "pop")
    outgoing = preferred(found, "smtp")
    if incoming is None or outgoing is None:
        raise NothingToConfigure("a mail app needs an open IMAP or POP door and SMTP "
                                 "sending; request them on the My doors page")
    base = _reverse(incoming.host)
    mail_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailgate:{incoming.host}:mail:{address}"))
    top_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailgate:{incoming.host}:{address}"))
    mail = {
        "PayloadType": "com.apple.mail.managed",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{base}.mailgate.mail.{mail_uuid}",
        "PayloadUUID": mail_uuid,
        "PayloadDisplayName": f"Mail: {address}",
        "EmailAccountDescription": address,
        "EmailAccountName": name or address,
        "EmailAccountType": "EmailTypeIMAP" if incoming.door == "imap" else "EmailTypePOP",
        "EmailAddress": address,
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "IncomingMailServerHostName": incoming.host,
        "IncomingMailServerPortNumber": incoming.port,
        "IncomingMailServerUseSSL": True,
        "IncomingMailServerUsername": address,
        "OutgoingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerHostName": outgoing.host,
        "OutgoingMailServerPortNumber": outgoing.port,
        "OutgoingMailServerUseSSL": True,
        "OutgoingMailServerUsername": address,
        "OutgoingPasswordSameAsIncomingPassword": True,
    }
    top = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{base}.mailgate.{top_uuid}",
        "PayloadUUID": top_uuid,
        "PayloadDisplayName": f"{address} mail",
        "PayloadDescription": f"Sets up the mail account {address}.",
        "PayloadRemovalDisallowed": False,
        "PayloadContent": [mail],
    }
    return plistlib.dumps(top, fmt=plistlib.FMT_XML)

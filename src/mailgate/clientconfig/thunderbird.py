"""Thunderbird's autoconfig document (clientConfig version 1.1): one incomingServer per open
IMAP/POP endpoint, one outgoingServer per open submission endpoint, the user name being the
address the user typed (`%EMAILADDRESS%`), so the document names no account."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from mailgate.clientconfig.endpoints import Endpoint


def _server(parent: ET.Element, tag: str, endpoint: Endpoint) -> None:
    server = ET.SubElement(parent, tag, type=endpoint.kind)
    for name, value in (("hostname", endpoint.host), ("port", str(endpoint.port)),
                        ("socketType", endpoint.socket),
                        ("authentication", "password-cleartext"),
                        ("username", "%EMAILADDRESS%")):
        ET.SubElement(server, name).text = value


def config_xml(domain: str, found: list[Endpoint]) -> bytes:
    root = ET.Element("clientConfig", version="1.1")
    provider = ET.SubElement(root, "emailProvider", id=domain)
    ET.SubElement(provider, "domain").text = domain
    ET.SubElement(provider, "displayName").text = f"{domain} mail"
    ET.SubElement(provider, "displayShortName").text = domain
    for endpoint in found:
        if endpoint.kind != "smtp":
            _server(provider, "incomingServer", endpoint)
    for endpoint in found:
        if endpoint.kind == "smtp":
            _server(provider, "outgoingServer", endpoint)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"

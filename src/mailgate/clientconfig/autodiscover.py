"""Microsoft Autodiscover, the POX flavour Outlook and others POST to
`/autodiscover/autodiscover.xml`: the request is parsed by defusedxml (no DTD, no entities,
no external references) after a size check, and must be the 2006 request schema asking for
the 2006a response; the answer lists one Protocol per open door (IMAP, POP3, SMTP)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from mailgate.clientconfig.endpoints import Endpoint, preferred

REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
MAX_REQUEST_BYTES = 4096
MAX_ADDRESS = 320
TYPES = (("imap", "IMAP"), ("pop", "POP3"), ("smtp", "SMTP"))


class BadRequest(ValueError):
    """A request that is not a well-formed, small Autodiscover POX request."""


def parse_request(body: bytes) -> str:
    """The EMailAddress of a POX request (not checked against the directory)."""
    if len(body) > MAX_REQUEST_BYTES:
        raise BadRequest(f"the request is larger than {MAX_REQUEST_BYTES} bytes")
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True,
                          forbid_external=True)
    except (ET.ParseError, DefusedXmlException, ValueError):
        raise BadRequest("the request is not well-formed XML without a DTD") from None
    if root.tag != f"{{{REQUEST_NS}}}Autodiscover":
        raise BadRequest("the request is not an Outlook Autodiscover request")
    request = root.find(f"{{{REQUEST_NS}}}Request")
    schema = request.findtext(f"{{{REQUEST_NS}}}AcceptableResponseSchema") \
        if request is not None else None
    address = request.findtext(f"{{{REQUEST_NS}}}EMailAddress") if request is not None else None
    if schema is None or schema.strip() != OUTLOOK_NS:
        raise BadRequest(f"AcceptableResponseSchema must be {OUTLOOK_NS}")
    address = (address or "").strip()
    if not address or len(address) > MAX_ADDRESS or "@" not in address:
        raise BadRequest("the request names no EMailAddress")
    return address


def _element(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _document(root: ET.Element) -> bytes:
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def response_xml(address: str, found: list[Endpoint]) -> bytes:
    """The settings answer: the namespaces written as Exchange writes them (a default
    `xmlns` on Autodiscover and on Response), every value escaped by ElementTree."""
    root = ET.Element("Autodiscover", xmlns=RESPONSE_NS)
    response = ET.SubElement(root, "Response", xmlns=OUTLOOK_NS)
    account = ET.SubElement(response, "Account")
    _element(account, "AccountType", "email")
    _element(account, "Action", "settings")
    for door, name in TYPES:
        endpoint = preferred(found, door)
        if endpoint is None:
            continue
        protocol = ET.SubElement(account, "Protocol")
        for tag, value in (("Type", name), ("Server", endpoint.host),
                           ("Port", str(endpoint.port)), ("DomainRequired", "off"),
                           ("LoginName", address), ("SPA", "off"), ("SSL", "on"),
                           ("Encryption", "SSL" if endpoint.socket == "SSL" else "TLS"),
                           ("AuthRequired", "on")):
            _element(protocol, tag, value)
    return _document(root)


def error_xml(code: int, message: str) -> bytes:
    """The POX error answer, for a request that cannot be answered."""
    root = ET.Element("Autodiscover", xmlns=RESPONSE_NS)
    response = ET.SubElement(root, "Response")
    error = ET.SubElement(response, "Error")
    _element(error, "ErrorCode", str(code))
    _element(error, "Message", message)
    return _document(root)

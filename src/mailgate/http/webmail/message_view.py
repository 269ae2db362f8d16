"""A stored message made fit to show: decoded headers, the body (HTML sanitised by nh3, or
plain text), and the attachments with safe file names.

Sanitised HTML keeps formatting tags and links (`rel="noopener noreferrer"`); scripts,
styles, event handlers, forms and frames are gone. Remote images are dropped until the user
asks to see them (`images=True`); the page's Content-Security-Policy blocks them as well. The
quoted text of a reply is made from the plain text, or from the HTML with its tags removed.
"""

from __future__ import annotations

import email.policy
import email.utils
import html
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import cast

import nh3

_TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col", "colgroup",
         "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6",
         "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small", "span",
         "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
         "tr", "tt", "u", "ul"}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"},
               "td": {"colspan", "rowspan", "align"}, "th": {"colspan", "rowspan", "align"},
               "ol": {"start"}, "*": {"dir", "lang"}}
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\"\\/:*?<>|;]+")
MAX_NAME = 150


@dataclass(frozen=True)
class Attachment:
    index: int  # its place among the message's attachments: the download URL's last part
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class ShownMessage:
    subject: str
    sender: str
    to: str
    cc: str
    date: str
    html: str | None  # sanitised
    text: str  # the plain text (of the HTML when there is no plain part)
    blocked_images: int  # remote images left out
    attachments: list[Attachment]
    message_id: str
    references: str
    reply_to: str


def parse(raw: bytes) -> EmailMessage:
    return cast(EmailMessage, BytesParser(policy=email.policy.default).parsebytes(raw))


def header(message: Message, name: str) -> str:
    """A header's decoded value on one line ('' when absent or undecodable)."""
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError, AttributeError):
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def safe_filename(name: str | None, fallback: str = "attachment") -> str:
    """A file name with no path, no quotes or control characters, of a sane length."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip(" ._")
    return cleaned[:MAX_NAME] or fallback


def _text_of(part: Message) -> str:
    try:
        return str(cast(EmailMessage, part).get_content())
    except (LookupError, ValueError, AssertionError, KeyError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def attachment_parts(message: EmailMessage) -> list[Message]:
    """The parts shown as attachments: named or marked `attachment`, not containers."""
    return [p for p in message.walk() if not p.is_multipart()
            and (p.get_filename() or p.get_content_disposition() == "attachment")]


def clean_html(markup: str, images: bool) -> tuple[str, int]:
    """(sanitised HTML, how many remote images were dropped)."""
    blocked = 0

    def only_allowed(tag: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        if tag == "img" and attribute == "src":
            remote = value.strip().lower().startswith(("https://", "http://", "//"))
            if remote and images and not value.strip().startswith("//"):
                return value
            blocked += remote
            return None
        return value

    cleaned = nh3.clean(markup, tags=_TAGS, attributes=_ATTRIBUTES,
                        url_schemes={"http", "https", "mailto"},
                        link_rel="noopener noreferrer nofollow",
                        attribute_filter=only_allowed, strip_comments=True)
    return cleaned, blocked


def html_to_text(markup: str) -> str:
    """Readable text of an HTML body, for the quote of a reply."""
    spaced = re.sub(r"(?i)<\s*(br|/p|/div|/tr|/li|/h\d)\b[^>]*>", "\n", markup)
    return html.unescape(nh3.clean(spaced, tags=set()))


def show(raw: bytes, images: bool = False) -> ShownMessage:
    message = parse(raw)
    attachments = attachment_parts(message)
    body = message.get_body(preferencelist=("html", "plain"))
    if body is not None and body in attachments:
        body = None
    plain = message.get_body(preferencelist=("plain",))
    markup, blocked, text = None, 0, ""
    if body is not None and body.get_content_subtype() == "html":
        markup, blocked = clean_html(_text_of(body), images)
    if plain is not None and plain not in attachments:
        text = _text_of(plain)
    elif body is not None:
        text = html_to_text(_text_of(body))
    date = header(message, "Date")
    try:
        parsed = email.utils.parsedate_to_datetime(date) if date else None
        date = parsed.strftime("%a %d %b %Y %H:%M") if parsed else date
    except (TypeError, ValueError):
        pass
    return ShownMessage(
        subject=header(message, "Subject"), sender=header(message, "From"),
        to=header(message, "To"), cc=header(message, "Cc"), date=date, html=markup,
        text=text, blocked_images=blocked,
        attachments=[Attachment(i, safe_filename(p.get_filename(), f"attachment-{i + 1}"),
                                p.get_content_type(), len(p.get_payload(decode=True) or b""))
                     for i, p in enumerate(attachments)],
        message_id=header(message, "Message-ID"), references=header(message, "References"),
        reply_to=header(message, "Reply-To"))


def attachment(raw: bytes, index: int) -> tuple[str, bytes] | None:
    """(safe file name, decoded content) of one attachment, None when there is no such."""
    parts = attachment_parts(parse(raw))
    if not 0 <= index < len(parts):
        return None
    part = parts[index]
    data = part.get_payload(decode=True)
    return (safe_filename(part.get_filename(), f"attachment-{index + 1}"),
            data if isinstance(data, bytes) else b"")

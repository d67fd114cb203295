"""A message seen in DATA or BDAT, summarised with the standard library's email parser."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from smtpdoc.model import Message

# Header → our key. Zeek's smtp.log uses the same idea (from, to, cc, ...).
_HEADERS = {
    "from": "from",
    "to": "to",
    "cc": "cc",
    "reply-to": "reply_to",
    "subject": "subject",
    "date": "date",
    "message-id": "message_id",
    "in-reply-to": "in_reply_to",
    "user-agent": "user_agent",
    "x-mailer": "user_agent",
    "x-originating-ip": "x_originating_ip",
}


def unstuff(data: bytes) -> bytes:
    """Undo RFC 5321 §4.5.2 dot-stuffing."""
    if b"\n." not in data and not data.startswith(b"."):
        return data
    lines = data.split(b"\n")
    return b"\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def summarise(data: bytes, size: int, truncated: bool) -> Message:
    parsed = BytesParser(policy=policy.compat32).parsebytes(data)
    found: dict[str, list[str]] = {}
    for name, raw in parsed.raw_items():
        if name.lower() in _HEADERS:
            found.setdefault(name.lower(), []).append(_clean(_unescape(raw)))
    headers: dict[str, str] = {}
    for name, key in _HEADERS.items():
        if name in found and key not in headers:
            headers[key] = ", ".join(found[name])
    return Message(size=size, headers=headers, attachments=_attachments(data), truncated=truncated)


def _unescape(raw: str) -> str:
    """Header text as sent: UTF-8 (RFC 6532, SMTPUTF8) where it is valid, Latin-1 otherwise.

    The parser keeps undecodable bytes as surrogates; encoded words (=?utf-8?...?=) are
    left as they are, as Zeek's smtp.log does.
    """
    data = raw.encode("ascii", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _clean(value: str) -> str:
    # RFC 5322 §2.2.3 unfolding: remove the line breaks, keep the whitespace.
    return value.replace("\r\n", "").replace("\n", "").strip()


def _attachments(data: bytes) -> list[dict[str, str]]:
    try:
        parsed = BytesParser(policy=policy.default).parsebytes(data)
    except Exception:
        return []
    if not isinstance(parsed, EmailMessage) or not parsed.is_multipart():
        return []
    found = []
    for part in parsed.walk():
        try:
            name = part.get_filename()
        except Exception:
            name = None
        disposition = part.get_content_disposition()
        if name or disposition == "attachment":
            found.append({"name": name or "(unnamed)", "type": part.get_content_type()})
    return found

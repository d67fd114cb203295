"""A message seen in DATA or BDAT, summarised with the standard library's email parser."""

from __future__ import annotations

from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
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


def summarise(data: bytes, size: int, truncated: bool, cut: bool = False) -> Message:
    """`cut`: a snap length cut the text right after `data`; a header line it ends inside is
    marked with "…" (its value went on in bytes the capture does not have)."""
    parsed = BytesParser(policy=policy.compat32).parsebytes(data)
    items = list(parsed.raw_items())
    cut_header = cut and not data.endswith(b"\n") and not _header_block_ended(data)
    found: dict[str, list[str]] = {}
    for index, (name, raw) in enumerate(items):
        if name.lower() in _HEADERS:
            value = _clean(_unescape(raw))
            found.setdefault(name.lower(), []).append(value + "…" if cut_header and index == len(items) - 1 else value)
    headers: dict[str, str] = {}
    for name, key in _HEADERS.items():
        if name in found and key not in headers:
            headers[key] = ", ".join(found[name])
    decoded = {key: text for key, value in headers.items() if (text := decode_words(value)) is not None}
    return Message(
        size=size, headers=headers, attachments=_attachments(data), truncated=truncated, decoded=decoded
    )


def _header_block_ended(data: bytes) -> bool:
    return b"\r\n\r\n" in data or b"\n\n" in data or data.startswith((b"\r\n", b"\n"))


def decode_words(value: str) -> str | None:
    """The text of a header whose value has RFC 2047 encoded words (=?charset?B|Q?...?=), or None.

    The standard library does the decoding and joins adjacent encoded words as RFC 2047 §6.2
    says (the white space between them goes). A word in a charset Python does not know, or
    whose bytes do not fit its charset, is decoded as UTF-8 with replacement characters rather
    than dropped.
    """
    if "=?" not in value:
        return None
    try:
        parts = decode_header(value)
    except (HeaderParseError, ValueError):
        return None
    if all(charset is None for _, charset in parts):
        return None
    try:
        text = str(make_header(parts))
    except (LookupError, UnicodeError, HeaderParseError, ValueError):
        text = str(make_header([(_lenient(chunk, charset), "utf-8") for chunk, charset in parts]))
    text = _clean(text)
    return text if text and text != value else None


def _lenient(chunk: bytes | str, charset: str | None) -> str:
    if isinstance(chunk, str):
        return chunk
    try:
        return chunk.decode(charset or "ascii", "replace")
    except LookupError:
        return chunk.decode("utf-8", "replace")


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

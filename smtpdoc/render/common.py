"""Small helpers shared by renderers."""

from __future__ import annotations

import re

from smtpdoc.model import Session
from smtpdoc.render import SEVERITIES

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\udc80-\udcff]")
_NOT_ASCII_TEXT = re.compile(r"[^\x09\x0a\x20-\x7e]")
_LATIN1_HIGH = re.compile(r"[\x80-\xff]")
_ESCAPED_BYTE = re.compile(r"\\x[0-9a-f]{2}")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00 if code >= 0xDC00 else code:02x}"


def printable(value: object) -> str:
    """Capture-derived text made safe for a terminal: control bytes shown as \\xNN.

    Binary read as Latin-1 (control bytes among characters below U+0100) is shown
    entirely as escaped bytes, so '\\x8f\\xa3\\x00' rather than mojibake like '\\x8f£\\x00'.
    """
    text = str(value)
    if text.isprintable() and "\\x" not in text:
        return text  # the common case, found without a regex: every _CONTROL character is unprintable
    if not _CONTROL.search(text):
        if _ESCAPED_BYTE.search(text) and _LATIN1_HIGH.search(text):
            # bytes already escaped by repr() beside Latin-1 letters: the rest of the same binary
            return _LATIN1_HIGH.sub(_escape, text)
        return text
    if max(map(ord, text)) <= 0xFF:
        return _NOT_ASCII_TEXT.sub(_escape, text)
    return _CONTROL.sub(_escape, text)


LINE_BOUND = 160  # characters of one protocol line shown in a report
TEXT_BOUND = 300  # characters of a summary, note or finding detail
VALUE_BOUND = 80  # characters of an address or header value in a list


def bounded(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, saying how long it really was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (cut: {len(text):,} characters in all)"


def frame_ranges(frames: list[int]) -> str:
    """[1, 2, 3, 7, 9, 10] → '1-3, 7, 9-10'."""
    if not frames:
        return "-"
    ordered = sorted(set(frames))
    parts: list[str] = []
    start = prev = ordered[0]
    for frame in ordered[1:]:
        if frame == prev + 1:
            prev = frame
            continue
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = frame
    parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


def severity_counts(severities: list[str]) -> str:
    """['warning', 'critical', 'warning'] → '1 critical, 2 warning' (most severe first), '-' for none."""
    counts = {s: severities.count(s) for s in SEVERITIES if s in severities}
    others = sorted(set(severities) - set(SEVERITIES))
    counts.update({s: severities.count(s) for s in others})
    return ", ".join(f"{n} {s}" for s, n in counts.items()) or "-"


def tls_label(session: Session) -> str:
    """What the session did with TLS, in a few words: 'TLS 1.3', 'STARTTLS, no handshake', 'no'."""
    tls = session.tls
    if tls is None:
        return "no"
    chosen = tls.server_hello or {}
    version = chosen.get("version_name") or (str(chosen["version"]) if chosen.get("version") else "")
    if version and tls.established:
        return f"{version}{' (implicit)' if tls.implicit else ''}"
    return "TLS not completed"

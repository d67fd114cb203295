"""Pure parsing of SMTP lines: commands, replies, EHLO replies, MAIL parameters."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?:\s|$)")
_BRACKETED = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]")
_VERB = re.compile(rb"^[A-Za-z][A-Za-z0-9-]{1,15}$")
_MASKED_STARTTLS = re.compile(r"^X{4,}A$|^XXXXXXXA$", re.IGNORECASE)


def text(data: bytes) -> str:
    """Bytes from the wire as text: UTF-8 where valid, Latin-1 otherwise."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@dataclass(slots=True)
class Command:
    verb: str  # upper-case
    argument: str
    raw: str  # the line as sent, without its line ending
    well_formed: bool = True  # the first word looks like a command verb


def parse_command(line: bytes) -> Command | None:
    """'mail FROM:<a@b>' → Command('MAIL', 'FROM:<a@b>'); None for an empty line.

    A line whose first word is no verb is still a command to the server (which
    answers 500), so it is returned with `well_formed` False.
    """
    stripped = line.strip()
    if not stripped:
        return None
    head, _, rest = stripped.partition(b" ")
    return Command(
        verb=text(head).upper(), argument=text(rest).strip(), raw=text(line), well_formed=bool(_VERB.match(head))
    )


@dataclass(slots=True)
class ReplyLine:
    code: int
    last: bool
    text: str


def parse_reply_line(line: bytes) -> ReplyLine | None:
    """Three digits, then '-' (more lines follow), ' ' or nothing, then the text."""
    code = line[:3]
    if len(code) < 3 or not code.isdigit():  # bytes.isdigit: ASCII digits only
        return None
    sep = line[3:4]
    rest = line[4:] if sep == b" " or sep == b"-" else line[3:]
    return ReplyLine(code=int(code), last=sep != b"-", text=text(rest).strip())


def enhanced_code(reply_text: str) -> str | None:
    """'2.0.0 Ready to start TLS' → '2.0.0'."""
    match = _ENHANCED.match(reply_text)
    return f"{match[1]}.{match[2]}.{match[3]}" if match else None


@dataclass(frozen=True, slots=True)
class EhloFirstLine:
    server_name: str
    greeting_text: str
    client_address: str | None


def parse_ehlo_first_line(line: str) -> EhloFirstLine:
    """'smtp.gmail.com at your service, [2400:…]' → name, friendly text, client address."""
    name, _, rest = line.strip().partition(" ")
    address = None
    match = _BRACKETED.search(rest)
    if match:
        address = match[1]
        rest = (rest[: match.start()] + rest[match.end() :]).strip()
    rest = rest.strip().rstrip(",").strip()
    return EhloFirstLine(server_name=name, greeting_text=rest, client_address=address)


def parse_extensions(lines: Iterable[str]) -> list[tuple[str, str]]:
    """The lines of an EHLO reply after the first → (keyword, parameters), blank lines left out:
    'SIZE 35882577' → ('SIZE', '35882577'); 'AUTH=LOGIN PLAIN' → ('AUTH=LOGIN', 'PLAIN')."""
    found = []
    for line in lines:
        keyword, _, params = line.strip().partition(" ")
        if keyword:
            found.append((keyword, params.strip()))
    return found


def is_masked_starttls(keyword: str) -> bool:
    return keyword[:1] in ("X", "x") and bool(_MASKED_STARTTLS.match(keyword))


def parse_path(argument: str, prefix: str) -> tuple[str, str]:
    """'FROM:<a@b> SIZE=10 BODY=8BITMIME' → ('a@b', 'SIZE=10 BODY=8BITMIME')."""
    rest = argument
    if rest.upper().startswith(prefix):
        rest = rest[len(prefix) :]
    elif "<" in rest:
        rest = rest[rest.index("<") :]  # 'TO:<a@b>' after MAIL: a client error, the path is still clear
    rest = rest.lstrip()
    if rest.startswith("<"):
        end = rest.find(">")
        if end >= 0:
            return rest[1:end], rest[end + 1 :].strip()
        return rest[1:], ""
    address, _, params = rest.partition(" ")
    return address, params.strip()


def parse_params(params: str) -> dict[str, str]:
    """'SIZE=10 BODY=8BITMIME SMTPUTF8' → {'SIZE': '10', 'BODY': '8BITMIME', 'SMTPUTF8': ''}."""
    out: dict[str, str] = {}
    for item in params.split():
        key, _, value = item.partition("=")
        out[key.upper()] = value
    return out


def parse_bdat(argument: str) -> tuple[int | None, bool]:
    """'100 LAST' → (100, True); a size that is not a number → (None, ...)."""
    parts = argument.split()
    last = len(parts) > 1 and parts[1].upper() == "LAST"
    if not parts or not parts[0].isdigit():
        return None, last
    return int(parts[0]), last


def line_ending_problem(line: bytes) -> str | None:
    """A line as split on LF: does it end in a proper CRLF, and hold no bare CR?"""
    body = line[:-2] if line.endswith(b"\r\n") else line.rstrip(b"\n")
    if line.endswith(b"\n") and not line.endswith(b"\r\n"):
        return "bare LF"
    if b"\r" in body:
        return "bare CR"
    return None


def with_decoded(token: str) -> str:
    """'VXNlcm5hbWU6' → "VXNlcm5hbWU6 (base64 of 'Username:')"; other text is left alone.

    SASL PLAIN's NUL separators are shown as ' / ' so that authzid, user and password read
    apart.
    """
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return token
    decoded = text(raw).replace("\x00", " / ").strip(" /")
    if not raw or not decoded.isprintable():
        return token
    return f"{token} (base64 of {decoded!r})"

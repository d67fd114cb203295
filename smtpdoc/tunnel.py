"""The reader of a proxy tunnel's set-up: both directions' bytes → tunnel events.

SMTP may run inside a tunnel that a proxy opens for the client: HTTP CONNECT (RFC 9110
§9.3.6), SOCKS5 (RFC 1928, with the username/password login of RFC 1929), or SOCKS4 and
its 4a extension (no RFC; the NEC protocol notes spam software still uses). A load
balancer in front of a mail server may instead open each connection with a PROXY protocol
header (HAProxy's proxy-protocol.txt, version 1 text or version 2 binary) naming the client
it speaks for; the server reads it before it greets, and nothing answers it. The client's
first bytes say which, never the port: `sniff` looks at them. The reader then cuts each
set-up message from its side's bytes, in the order the protocol has them, and stops at the
proxy's answer: the bytes after it are the tunnelled stream (SMTP from its greeting on),
read by the SMTP readers (smtpdoc.readers). Like them, it only cuts bytes: what a message
means (tunnel open, refused, not a proxy at all) is the transition table's.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
from dataclasses import dataclass
from typing import Final, Literal

from smtpdoc.events import CLIENT, SERVER, Side
from smtpdoc.reassembly import ByteStream
from smtpdoc.smtp_text import text

Protocol = Literal["http", "socks5", "socks4", "proxy"]
# What a set-up message is: the client's offer of login methods (SOCKS5), its login, its
# request for the target; the proxy's choice of method, login status and answer; "rest" for
# bytes after a refusal (no tunnel carries them); "not_proxy" when the server's first bytes
# are no answer of this protocol (its bytes are left unread, for SMTP); "header" for a PROXY
# protocol header (granted False: none could be read, its bytes are left for SMTP).
Part = Literal["offer", "login", "request", "choice", "login_status", "answer", "rest", "not_proxy", "header"]

_SOCKS5: Final = 5
_SOCKS4: Final = 4
_SOCKS5_LOGIN_VERSION: Final = 1  # RFC 1929 §2
_SOCKS5_USER_PASS: Final = 2  # RFC 1928 §3: the username/password method
_SOCKS5_NO_METHOD: Final = 0xFF
_SOCKS4_GRANTED: Final = 0x5A
_SOCKS4_REPLY: Final = 0  # a SOCKS4 reply's first byte
_HTTP_CONNECT: Final = b"CONNECT "
_MAX_HEAD = 16384  # an HTTP head longer than this without its blank line is no proxy request
_PROXY_V1: Final = b"PROXY "
_PROXY_V1_MAX: Final = 107  # the longest version 1 line, CRLF included (proxy-protocol.txt §2.1)
_PROXY_V2: Final = b"\r\n\r\n\x00\r\nQUIT\n"  # version 2's signature (§2.2)
_PROXY_V2_HEAD: Final = 16  # signature, version and command, family, length
_PROXY_V2_ADDRESSES: Final = {0x11: (4, socket.AF_INET), 0x21: (16, socket.AF_INET6)}  # TCP over IPv4, IPv6


@dataclass(frozen=True, slots=True)
class TunnelMessage:
    """One set-up message; which facts it carries depends on its part."""

    side: Side
    part: Part
    frames: tuple[int, ...]
    time: float
    lines: tuple[str, ...] = ()  # the HTTP head as sent, one line each (a secret left out)
    host: str | None = None  # the target asked for (request) or the address the proxy bound (answer)
    port: int | None = None
    code: int | None = None  # HTTP status, SOCKS reply code, SOCKS5 method chosen, login status
    phrase: str = ""  # HTTP's reason phrase
    granted: bool | None = None  # on the answer (or a refusal before it): is the tunnel open?
    methods: tuple[int, ...] = ()  # SOCKS5 login methods offered
    user: str | None = None  # a login's user name (SOCKS5 login, HTTP Basic; SOCKS4's user id)
    secret: str | None = None  # its password, kept apart so that it is shown only when asked
    secret_line: int | None = None  # the index in `lines` of the line that carried the secret
    socks4a: bool = False  # a SOCKS4 request naming its target by name
    to_host: str | None = None  # a PROXY header's original destination (host and port: its source)
    to_port: int | None = None
    version: int | None = None  # a PROXY header's protocol version (1 or 2)
    local: bool = False  # a PROXY header for the balancer's own connection (LOCAL, UNKNOWN): no client named
    cut: bool = False  # an answer whose end the capture does not have (the stream ended first)


def sniff(first: bytes) -> Protocol | Literal["undecided"] | None:
    """Which tunnel protocol the client's first bytes start, None for none, or "undecided" (too few)."""
    if not first:
        return "undecided"
    if first.startswith(_PROXY_V1) or first.startswith(_PROXY_V2):
        return "proxy"
    if _PROXY_V1.startswith(first) or _PROXY_V2.startswith(first):
        return "undecided"
    if first[0] == _SOCKS5:
        if len(first) < 2:
            return "undecided"
        count = first[1]
        if count == 0:
            return None
        if len(first) < 2 + count:
            return "undecided"
        return "socks5"
    if first[0] == _SOCKS4:
        if len(first) < 2:
            return "undecided"
        return "socks4" if first[1] in (1, 2) else None
    if first.startswith(_HTTP_CONNECT):
        return "http"
    return "undecided" if _HTTP_CONNECT.startswith(first) else None


def _chunk(stream: ByteStream, size: int) -> tuple[tuple[int, ...], float]:
    chunk = stream.take(size)
    return tuple(chunk.frames), chunk.time


class TunnelReader:
    """The set-up of one tunnel, read from the client's and the proxy's bytes."""

    def __init__(self, protocol: Protocol, client: ByteStream, server: ByteStream) -> None:
        self.protocol = protocol
        self.client = client
        self.server = server
        self.client_done = False  # the request was read: later client bytes are the tunnel's
        self.offered = False  # SOCKS5: the client offered its methods
        self.chosen: int | None = None  # SOCKS5: the method the proxy chose
        self.login_answered = False
        self.refused = False  # after a refusal every byte is "rest"
        self.done = False  # the tunnel is open, or the server is no proxy: nothing more to read

    def next_event(self) -> TunnelMessage | None:
        """The next complete set-up message, the client's first (the proxy's answer ends the set-up)."""
        if self.done:
            return None
        if self.refused:
            return self._rest(self.server, SERVER) or self._rest(self.client, CLIENT)
        if self.protocol == "proxy":  # one header, answered by nothing: the server's bytes are SMTP
            event = self._client()
            self.done = event is not None
            return event
        event = self._client() or self._server()  # each proxy message answers a client one
        self.done = event is not None and (event.part == "not_proxy" or event.granted is True)
        return event

    def cut_answer(self) -> TunnelMessage | None:
        """The stream ended inside the proxy's answer: what its first bytes still say, marked cut.

        A SOCKS reply's code is its second byte and an HTTP status is its first line, so a
        refusal cut short (a proxy that writes `05 05` or one status line and closes) is still
        read as a refusal; an answer that says less, or a cut one that grants, is left unread."""
        if self.done or self.refused or not self.client_done or len(self.server) < 2:
            return None
        data = bytes(self.server.buffer)
        if self.protocol == "http":
            line, found, _ = data.partition(b"\n")
            lines: tuple[str, ...] = (text(line).rstrip("\r"),)  # decoded as _head decodes a whole head
            status = _status(lines[0]) if found else None
            if status is None:
                return None
            code, phrase = status
            granted = 200 <= code < 300
        else:
            version = _SOCKS4_REPLY if self.protocol == "socks4" else _SOCKS5
            if data[0] != version or self._login_due() or (self.chosen is None and self.protocol == "socks5"):
                return None
            code, phrase, lines = data[1], "", ()
            granted = code == (_SOCKS4_GRANTED if self.protocol == "socks4" else 0)
        if granted:
            return None
        frames, time = _chunk(self.server, len(self.server))
        self.refused = True
        return TunnelMessage(
            SERVER, "answer", frames, time, lines=lines, code=code, phrase=phrase.strip(), granted=False, cut=True
        )

    @staticmethod
    def _rest(stream: ByteStream, side: Side) -> TunnelMessage | None:
        if not len(stream):
            return None
        frames, time = _chunk(stream, len(stream))
        return TunnelMessage(side, "rest", frames, time)

    # -- the client ------------------------------------------------------------------------
    def _client(self) -> TunnelMessage | None:
        if self.client_done or not len(self.client):
            return None
        if self.protocol == "proxy":
            return self._proxy_header()
        if self.protocol == "http":
            return self._http_request()
        if self.protocol == "socks4":
            return self._socks4_request()
        if not self.offered:
            return self._socks5_offer()
        if self.client.buffer[0] == _SOCKS5_LOGIN_VERSION:
            return self._socks5_login()
        return self._socks5_request()

    def _http_request(self) -> TunnelMessage | None:
        head = _head(self.client)
        if head is None:
            return None
        lines, size = head
        target = lines[0].split()
        host, port = _host_port(target[1] if len(target) > 1 else "")
        user = secret = None
        secret_line = None
        for i, line in enumerate(lines[1:], 1):
            name, _, value = line.partition(":")
            scheme, _, token = value.strip().partition(" ")
            if name.strip().lower() == "proxy-authorization":
                secret_line = i
                if scheme.lower() == "basic":
                    user, secret = _basic(token.strip())
                else:
                    secret = token.strip()
        frames, time = _chunk(self.client, size)
        self.client_done = True
        return TunnelMessage(
            CLIENT, "request", frames, time, lines=tuple(lines), host=host, port=port,
            user=user, secret=secret, secret_line=secret_line,
        )  # fmt: skip

    def _proxy_header(self) -> TunnelMessage | None:
        """A PROXY protocol header, cut from the client's bytes; granted False (nothing cut) when
        the bytes are no header of its form: the SMTP readers then read them."""
        data = bytes(self.client.buffer[: max(_PROXY_V1_MAX, _PROXY_V2_HEAD)])
        if data.startswith(_PROXY_V2):
            return self._proxy_v2()
        end = data.find(b"\r\n")
        if end < 0:
            return None if len(data) < _PROXY_V1_MAX else self._no_header()
        line = text(data[:end])
        words = line.split(" ")
        local = len(words) >= 2 and words[1] == "UNKNOWN"  # the balancer cannot say (or its own check)
        host = port = to_host = to_port = None
        if not local:
            try:
                family, source, dest, sport, dport = words[1:]
                host, to_host = _address(source, family), _address(dest, family)
                port, to_port = _port(sport), _port(dport)
            except ValueError:
                return self._no_header()
        frames, time = _chunk(self.client, end + 2)
        self.client_done = True
        return TunnelMessage(
            CLIENT, "header", frames, time, lines=(line,), host=host, port=port,
            to_host=to_host, to_port=to_port, version=1, local=local, granted=True,
        )  # fmt: skip

    def _proxy_v2(self) -> TunnelMessage | None:
        head = bytes(self.client.buffer[:_PROXY_V2_HEAD])
        if len(head) < _PROXY_V2_HEAD:
            return None
        command, family, length = head[12], head[13], int.from_bytes(head[14:16], "big")
        if command >> 4 != 2 or command & 0x0F > 1:
            return self._no_header()
        if len(self.client) < _PROXY_V2_HEAD + length:
            return None
        body = bytes(self.client.buffer[_PROXY_V2_HEAD : _PROXY_V2_HEAD + length])
        local = command & 0x0F == 0 or family not in _PROXY_V2_ADDRESSES  # LOCAL, or no IP (UNIX, UDP, ...)
        host = port = to_host = to_port = None
        if not local:
            size, inet = _PROXY_V2_ADDRESSES[family]
            if length < 2 * size + 4:
                return self._no_header()
            host = socket.inet_ntop(inet, body[:size])
            to_host = socket.inet_ntop(inet, body[size : 2 * size])
            port = int.from_bytes(body[2 * size : 2 * size + 2], "big")
            to_port = int.from_bytes(body[2 * size + 2 : 2 * size + 4], "big")
        frames, time = _chunk(self.client, _PROXY_V2_HEAD + length)
        self.client_done = True
        return TunnelMessage(
            CLIENT, "header", frames, time, host=host, port=port,
            to_host=to_host, to_port=to_port, version=2, local=local, granted=True,
        )  # fmt: skip

    def _no_header(self) -> TunnelMessage:
        self.client_done = True
        return TunnelMessage(CLIENT, "header", (), 0.0, granted=False)

    def _socks5_offer(self) -> TunnelMessage | None:
        data = self.client.buffer
        if len(data) < 2 or len(data) < 2 + data[1]:
            return None
        methods = tuple(data[2 : 2 + data[1]])
        frames, time = _chunk(self.client, 2 + data[1])
        self.offered = True
        return TunnelMessage(CLIENT, "offer", frames, time, methods=methods)

    def _socks5_login(self) -> TunnelMessage | None:
        """RFC 1929 §2: version 1, user name and password, each after its length."""
        data = bytes(self.client.buffer)
        if len(data) < 2 or len(data) < 3 + data[1]:
            return None
        ulen = data[1]
        plen = data[2 + ulen]
        if len(data) < 3 + ulen + plen:
            return None
        user, secret = text(data[2 : 2 + ulen]), text(data[3 + ulen : 3 + ulen + plen])
        frames, time = _chunk(self.client, 3 + ulen + plen)
        return TunnelMessage(CLIENT, "login", frames, time, user=user, secret=secret)

    def _socks5_request(self) -> TunnelMessage | None:
        """RFC 1928 §4: version, command, reserved, then the target's address and port."""
        data = bytes(self.client.buffer)
        address = _socks5_address(data, 3)
        if address is None:
            return None
        host, port, size = address
        frames, time = _chunk(self.client, size)
        self.client_done = True
        return TunnelMessage(CLIENT, "request", frames, time, host=host, port=port, code=data[1])

    def _socks4_request(self) -> TunnelMessage | None:
        """Version 4, command, port, IPv4 address, a user id up to NUL; 4a: address 0.0.0.x, then a name up to NUL."""
        data = bytes(self.client.buffer)
        end = data.find(b"\0", 8)
        if len(data) < 9 or end < 0:
            return None
        port = int.from_bytes(data[2:4], "big")
        socks4a = data[4:7] == b"\0\0\0" and data[7] != 0
        host = str(ipaddress.IPv4Address(data[4:8]))
        size = end + 1
        if socks4a:
            name_end = data.find(b"\0", end + 1)
            if name_end < 0:
                return None
            host, size = text(data[end + 1 : name_end]), name_end + 1
        user = text(data[8:end]) or None
        frames, time = _chunk(self.client, size)
        self.client_done = True
        return TunnelMessage(
            CLIENT, "request", frames, time, host=host, port=port, code=data[1], user=user, socks4a=socks4a
        )

    # -- the proxy -------------------------------------------------------------------------
    def _server(self) -> TunnelMessage | None:
        if not len(self.server):
            return None
        data = bytes(self.server.buffer)
        if self.protocol == "http":
            return self._http_status(data)
        if self.protocol == "socks4":
            return self._socks4_answer(data)
        return self._socks5_answer(data)

    def _not_proxy(self) -> TunnelMessage:
        frames = (self.server.peek_frame() or 0,)
        return TunnelMessage(SERVER, "not_proxy", frames, 0.0)

    def _http_status(self, data: bytes) -> TunnelMessage | None:
        if not (data.startswith(b"HTTP/") or b"HTTP/".startswith(data[:5])):
            return self._not_proxy()
        head = _head(self.server)
        if head is None:
            return None
        lines, size = head
        status = _status(lines[0])
        if status is None:
            return self._not_proxy()
        code, phrase = status
        frames, time = _chunk(self.server, size)
        self.refused = not 200 <= code < 300
        return TunnelMessage(
            SERVER,
            "answer",
            frames,
            time,
            lines=tuple(lines),
            code=code,
            phrase=phrase.strip(),
            granted=not self.refused,
        )

    def _socks5_answer(self, data: bytes) -> TunnelMessage | None:
        if data[0] != (_SOCKS5_LOGIN_VERSION if self._login_due() else _SOCKS5):
            return self._not_proxy()
        if len(data) < 2:
            return None
        if self.chosen is None:
            self.chosen = data[1]
            frames, time = _chunk(self.server, 2)
            if self.chosen == _SOCKS5_NO_METHOD:
                self.refused = True
                return TunnelMessage(SERVER, "choice", frames, time, code=self.chosen, granted=False)
            return TunnelMessage(SERVER, "choice", frames, time, code=self.chosen)
        if self._login_due():
            self.login_answered = True
            frames, time = _chunk(self.server, 2)
            self.refused = data[1] != 0
            return TunnelMessage(
                SERVER, "login_status", frames, time, code=data[1], granted=False if self.refused else None
            )
        address = _socks5_address(data, 3)
        if address is None:
            return None
        host, port, size = address
        frames, time = _chunk(self.server, size)
        self.refused = data[1] != 0
        return TunnelMessage(
            SERVER, "answer", frames, time, host=host, port=port, code=data[1], granted=not self.refused
        )

    def _login_due(self) -> bool:
        return self.chosen == _SOCKS5_USER_PASS and not self.login_answered

    def _socks4_answer(self, data: bytes) -> TunnelMessage | None:
        if data[0] != _SOCKS4_REPLY:
            return self._not_proxy()
        if len(data) < 8:
            return None
        code = data[1]
        port = int.from_bytes(data[2:4], "big")
        host = str(ipaddress.IPv4Address(data[4:8]))
        frames, time = _chunk(self.server, 8)
        self.refused = code != _SOCKS4_GRANTED
        return TunnelMessage(SERVER, "answer", frames, time, host=host, port=port, code=code, granted=not self.refused)


def _status(line: str) -> tuple[int, str] | None:
    """(code, reason phrase) of an HTTP status line, or None when the line is not one."""
    version, _, rest = line.partition(" ")
    code_text, _, phrase = rest.partition(" ")
    if not version.startswith("HTTP/") or not (code_text.isascii() and code_text.isdigit() and len(code_text) == 3):
        return None
    return int(code_text), phrase


def _head(stream: ByteStream) -> tuple[list[str], int] | None:
    """An HTTP head (start line and header lines) up to its blank line: its lines and its size."""
    data = bytes(stream.buffer[:_MAX_HEAD])
    for end in (b"\r\n\r\n", b"\n\n"):
        at = data.find(end)
        if at >= 0:
            return [text(line).rstrip("\r") for line in data[:at].split(b"\n")], at + len(end)
    if len(data) >= _MAX_HEAD:
        return [text(line).rstrip("\r") for line in data.split(b"\n")], len(data)  # no blank line: taken whole
    return None


def _host_port(target: str) -> tuple[str | None, int | None]:
    """'mx.example:25' → ('mx.example', 25); '[::1]:25' → ('::1', 25)."""
    host, sep, port = target.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()):
        return (target or None), None
    return host.strip("[]") or None, int(port)


def _basic(token: str) -> tuple[str | None, str | None]:
    """RFC 7617: Basic credentials are base64 of 'user:password'."""
    try:
        user, _, password = text(base64.b64decode(token, validate=True)).partition(":")
    except (binascii.Error, ValueError):
        return None, token
    return user, password


def _socks5_address(data: bytes, at: int) -> tuple[str, int, int] | None:
    """RFC 1928 §5: an address type, the address (IPv4, a name after its length, IPv6), a port."""
    if len(data) < at + 2:
        return None
    kind = data[at]
    if kind == 1:
        end = at + 1 + 4
        host = str(ipaddress.IPv4Address(data[at + 1 : end])) if len(data) >= end else ""
    elif kind == 4:
        end = at + 1 + 16
        host = str(ipaddress.IPv6Address(data[at + 1 : end])) if len(data) >= end else ""
    else:  # 3: a domain name (an unknown type is read the same way: its length byte, then the name)
        end = at + 2 + data[at + 1]
        host = text(data[at + 2 : end])
    if len(data) < end + 2:
        return None
    return host, int.from_bytes(data[end : end + 2], "big"), end + 2


def _address(text_address: str, family: str) -> str:
    """A PROXY v1 address, checked against its family (TCP4, TCP6): ValueError if it is none."""
    address = ipaddress.ip_address(text_address)
    if address.version != (4 if family == "TCP4" else 6 if family == "TCP6" else 0):
        raise ValueError(f"{text_address} is no {family} address")
    return str(address)


def _port(text_port: str) -> int:
    if not text_port.isdigit() or not 0 <= int(text_port) <= 65535:
        raise ValueError(f"{text_port!r} is no port")
    return int(text_port)

"""Packet events: what the PDML reader hands to the session machine.

These are deliberately small and free of tshark vocabulary: the reader
(`smtpdoc.pdml`) alone knows field names, the machine (`smtpdoc.session`)
only sees these records, and never writes to them.

`Packet` and `TlsRecord`, made once per packet and per record, are not frozen: a frozen
dataclass's __init__ sets each field through object.__setattr__, 2.5 µs for a Packet
against 0.4 µs (0.1 CPU-s of 1,000 sessions, bench/README.md). Changed copies are made
with dataclasses.replace, as for the frozen ones.
"""

from __future__ import annotations

from dataclasses import dataclass

# TCP flag bits, as on the wire.
FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10

# TLS record content types (RFC 8446 §5.1).
CHANGE_CIPHER_SPEC = 20
ALERT = 21
HANDSHAKE = 22
APPLICATION_DATA = 23


@dataclass(frozen=True, slots=True)
class ClientHello:
    sni: str | None
    versions: tuple[int, ...]  # supported_versions if sent, else the legacy version
    cipher_count: int
    alpn: tuple[str, ...] = ()
    session_id: str = ""


@dataclass(frozen=True, slots=True)
class ServerHello:
    version: int  # the negotiated version (supported_versions wins over legacy)
    cipher: int
    alpn: str | None = None
    psk: bool = False  # TLS 1.3: the server accepted a pre-shared key, i.e. resumed
    session_id: str = ""


@dataclass(frozen=True, slots=True)
class Certificate:
    subject: str
    issuer: str
    not_before: str | None = None
    not_after: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    level: int  # 1 warning, 2 fatal
    description: int
    encrypted: bool = False


@dataclass(frozen=True, slots=True)
class HandshakeMessage:
    """A handshake message we only name (Finished, KeyExchange, ...)."""

    type: int


TlsMessage = ClientHello | ServerHello | Certificate | Alert | HandshakeMessage


@dataclass(slots=True)
class TlsRecord:
    content_type: int  # as on the wire (TLS 1.3 hides the real type behind 23)
    length: int
    version: int | None = None
    messages: tuple[TlsMessage, ...] = ()
    inner_type: int | None = None  # the real type when tshark decrypted the record


@dataclass(slots=True)
class Packet:
    """One TCP segment of a conversation, as far as smtpdoc cares."""

    number: int
    time: float  # seconds since the epoch
    stream: int
    src: str
    dst: str
    sport: int
    dport: int
    flags: int
    seq: int  # relative sequence number
    ack_number: int = 0  # relative acknowledgement number
    payload: bytes = b""
    retransmission: bool = False
    tls: tuple[TlsRecord, ...] = ()
    # Decrypted application data carried by this frame (TLS with keys), in order.
    plaintext: bytes | None = None
    # tshark had the keys and dissected SMTP inside TLS on this frame: how many bytes.
    decrypted: bool = False
    decrypted_size: int = 0
    # True when tshark dissected TLS on this frame (the stream is a TLS stream).
    tls_layer: bool = False
    # Payload bytes the capture left out (a snap length cut the frame: frame.cap_len < frame.len).
    cut: int = 0
    snaplen: int = 0  # frame.cap_len of a cut frame

    @property
    def syn(self) -> bool:
        return bool(self.flags & SYN)

    @property
    def ack(self) -> bool:
        return bool(self.flags & ACK)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FIN)

    @property
    def rst(self) -> bool:
        return bool(self.flags & RST)

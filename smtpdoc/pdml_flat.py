"""tshark's field-selected PDML (`-T pdml -e FIELD ...`) → packet events, for captures without keys.

With `-e`, each <packet> holds the `geninfo` proto, then one flat <field name= value=/>
per value of the selected fields, grouped by field name in the order asked: tshark only
has to prepare these fields, and the XML is a fifth of the pruned tree's. What the flat
form loses is which TLS record a value came from; without decryption that is
recoverable (TLS 1.3 protects only records after the cleartext ones of a flight, and
only one hello travels in a frame). Decrypted TLS needs the tree (`smtpdoc.pdml`): the
first frame that shows decryption raises `NeedsTree`, and the caller goes on from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import IO, Any, cast

from lxml import etree

from smtpdoc.certificates import certificate
from smtpdoc.packets import (
    ALERT,
    HANDSHAKE,
    Alert,
    ClientHello,
    HandshakeMessage,
    Packet,
    ServerHello,
    TlsMessage,
    TlsRecord,
)
from smtpdoc.pdml import TSHARK_OPTIONS, PdmlError, frame_cut, timestamp, to_int

FIELDS = (
    *("ip.src", "ip.dst", "ipv6.src", "ipv6.dst"),
    *("tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq", "tcp.ack", "tcp.len", "tcp.payload"),
    *("tcp.analysis.retransmission", "tcp.analysis.spurious_retransmission"),
    "smtp",
    *("tls", "tls.record.length", "tls.record.version", "tls.record.content_type", "tls.record.opaque_type"),
    *("tls.handshake.type", "tls.handshake.version", "tls.handshake.extensions.supported_version"),
    *("tls.handshake.ciphersuite", "tls.handshake.extensions_alpn_str", "tls.handshake.extensions_server_name"),
    *("tls.handshake.session_id", "tls.handshake.extension.type", "tls.handshake.certificate"),
    *("tls.alert_message", "tls.alert_message.level", "tls.alert_message.desc"),
)

_HELLO_CLIENT = 1
_HELLO_SERVER = 2
_CERTIFICATE = 11
_EXT_PRE_SHARED_KEY = 41
_NONE: list[str] = []


class NeedsTree(Exception):
    """This frame shows decrypted TLS: read it and the rest with the tree reader."""

    def __init__(self, frame: int) -> None:
        super().__init__(f"frame {frame} is decrypted")
        self.frame = frame


def tshark_args(capture: str, *, decode_as: Sequence[str] = (), display_filter: str) -> list[str]:
    args = ["-n", "-r", capture, "-T", "pdml"]
    for name in FIELDS:
        args += ["-e", name]
    args += [*TSHARK_OPTIONS, "-Y", display_filter]
    for rule in decode_as:
        args += ["-d", rule]
    return args


def read_packets(stdout: IO[bytes]) -> Iterator[Packet]:
    """Yield one Packet per TCP <packet>; raise NeedsTree at the first frame the tree must read.

    lxml calls a parser target back for each element, so no tree is built at all (a
    fifth faster than iterparse on this flat XML, measured in bench/README.md). Chunks
    are read as tshark writes them, so packets flow while tshark is still dissecting.
    """
    target = _Target()
    parser = etree.XMLParser(target=cast(Any, target), huge_tree=True)
    read = getattr(stdout, "read1", stdout.read)
    broken: str | None = None
    while target.stop is None:
        chunk = read(_CHUNK)
        try:
            if chunk:
                parser.feed(chunk)
            else:
                parser.close()
        except etree.XMLSyntaxError as exc:
            broken = str(exc)
        yield from target.done
        target.done.clear()
        if broken is not None:
            raise PdmlError(broken)  # tshark stopped mid-document: what was yielded stands
        if not chunk:
            return
    raise NeedsTree(target.stop)


_CHUNK = 1 << 20


class _Target:
    """Collects each <packet>'s field values, grouped by name, and turns them into a Packet.

    Only `start` is defined: lxml then calls back once per element, not twice, and a
    packet is complete when the next one starts (or the document closes).
    """

    def __init__(self) -> None:
        self.values: dict[str, list[str]] | None = None
        self.done: list[Packet] = []
        self.stop: int | None = None  # the first frame only the tree reader can read

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        values = self.values
        if tag == "field" and values is not None:
            name = attrib.get("name", "")
            found = values.get(name)
            if found is None:
                values[name] = [attrib.get("value", "")]
            else:
                found.append(attrib.get("value", ""))
        elif tag == "packet":
            self._finish()
            self.values = {}

    def close(self) -> None:
        self._finish()
        self.values = None

    def _finish(self) -> None:
        if self.values is None or self.stop is not None:
            return
        try:
            packet = _packet(self.values)
        except NeedsTree as switch:
            self.stop = switch.frame
            return
        if packet is not None:
            self.done.append(packet)


def _packet(values: dict[str, list[str]]) -> Packet | None:
    get = values.get
    tcp_stream = get("tcp.stream")
    if tcp_stream is None:
        return None
    # geninfo's fields are named "num" (its value in hex) and "timestamp" (epoch seconds).
    number = int((get("num") or _ZERO)[0], 16)
    ipv4 = get("ip.src")
    addresses = ipv4 or get("ipv6.src") or _NONE
    layered = len(tcp_stream) > 1 or len(addresses) > 1 or (ipv4 and "ipv6.src" in values)
    if layered or ("tls" in values and "smtp" in values):
        # Tunnels, headers quoted in ICMP, SMTP next to TLS (tshark decrypted it): which
        # value belongs to which layer takes the tree. Plain SMTP is read from tcp.payload:
        # the smtp field is asked for only to see this.
        raise NeedsTree(number)
    payload = get("tcp.payload")
    data = bytes.fromhex(payload[-1]) if payload else b""
    tls_layer = "tls" in values
    length = int((get("len") or _ZERO)[0], 16)
    caplen = int((get("caplen") or _ZERO)[0], 16)
    cut = frame_cut(length, caplen, int((get("tcp.len") or _ZERO)[0]), len(data)) if caplen < length else 0
    return Packet(
        number,
        timestamp((get("timestamp") or _EMPTY)[0]),
        int(tcp_stream[0]),
        (addresses or _EMPTY)[0],
        (get("ip.dst" if ipv4 else "ipv6.dst") or _EMPTY)[0],
        int((get("tcp.srcport") or _ZERO)[0]),
        int((get("tcp.dstport") or _ZERO)[0]),
        to_int((get("tcp.flags") or _EMPTY)[0]),
        int((get("tcp.seq") or _ZERO)[0]),
        int((get("tcp.ack") or _ZERO)[0]),
        data,
        "tcp.analysis.retransmission" in values or "tcp.analysis.spurious_retransmission" in values,
        _records(values, number) if tls_layer else (),
        tls_layer=tls_layer,
        cut=cut,
        snaplen=caplen if cut else 0,
    )


_ZERO = ["0"]
_EMPTY = [""]


def _first(values: dict[str, list[str]], name: str, default: str) -> str:
    found = values.get(name)
    return found[0] if found else default


def _records(values: dict[str, list[str]], number: int) -> tuple[TlsRecord, ...]:
    lengths = values.get("tls.record.length", _NONE)
    if not lengths:
        return ()
    opaque = values.get("tls.record.opaque_type", _NONE)
    cleartext = values.get("tls.record.content_type", _NONE)
    in_clear = len(lengths) - len(opaque)
    if len(cleartext) > in_clear:
        raise NeedsTree(number)  # a protected record's inner type: tshark decrypted it
    types = [to_int(t) for t in cleartext] + [0] * (in_clear - len(cleartext)) + [to_int(t) for t in opaque]
    versions: Sequence[str | None] = values.get("tls.record.version", _NONE)
    if len(versions) != len(lengths):
        versions = [None] * len(lengths)  # which record a version belongs to is unknown: none has one
    handshakes = _handshakes(values) if "tls.handshake.type" in values else ()
    alerts = _alerts(values) if "tls.alert_message" in values else ()
    records = []
    for ctype, length, version in zip(types, lengths, versions, strict=True):
        messages: tuple[TlsMessage, ...] = ()
        if handshakes and ctype == HANDSHAKE:
            messages, handshakes = handshakes, ()
        elif alerts and ctype == ALERT:
            messages, alerts = alerts, ()
        records.append(TlsRecord(ctype, to_int(length), to_int(version) if version is not None else None, messages))
    return tuple(records)


def _handshakes(values: dict[str, list[str]]) -> tuple[TlsMessage, ...]:
    messages: list[TlsMessage] = []
    for text in values.get("tls.handshake.type", _NONE):
        htype = to_int(text, -1)
        if htype == _HELLO_CLIENT:
            messages.append(_client_hello(values))
        elif htype == _HELLO_SERVER:
            messages.append(_server_hello(values))
        elif htype == _CERTIFICATE and "tls.handshake.certificate" in values:
            messages.append(certificate(values["tls.handshake.certificate"][0]))
        elif htype >= 0:
            messages.append(HandshakeMessage(type=htype))
    return tuple(messages)


def _client_hello(values: dict[str, list[str]]) -> ClientHello:
    versions = tuple(to_int(v) for v in values.get("tls.handshake.extensions.supported_version", _NONE))
    legacy = to_int(_first(values, "tls.handshake.version", ""))
    names = values.get("tls.handshake.extensions_server_name")
    return ClientHello(
        sni=names[0] if names else None,
        versions=versions or ((legacy,) if legacy else ()),
        cipher_count=len(values.get("tls.handshake.ciphersuite", _NONE)),
        alpn=tuple(values.get("tls.handshake.extensions_alpn_str", _NONE)),
        session_id=_colons(_first(values, "tls.handshake.session_id", "")),
    )


def _server_hello(values: dict[str, list[str]]) -> ServerHello:
    versions = values.get("tls.handshake.extensions.supported_version")
    alpn = values.get("tls.handshake.extensions_alpn_str")
    return ServerHello(
        version=to_int(versions[0]) if versions else to_int(_first(values, "tls.handshake.version", "")),
        cipher=to_int(_first(values, "tls.handshake.ciphersuite", "")),
        alpn=alpn[0] if alpn else None,
        psk=_EXT_PRE_SHARED_KEY in {to_int(t) for t in values.get("tls.handshake.extension.type", _NONE)},
        session_id=_colons(_first(values, "tls.handshake.session_id", "")),
    )


def _colons(hex_text: str) -> str:
    """Bytes as the tree shows them ("0a:1b:..."); `-e` gives them without separators."""
    if ":" in hex_text:
        return hex_text
    return ":".join(hex_text[i : i + 2] for i in range(0, len(hex_text), 2))


def _alerts(values: dict[str, list[str]]) -> tuple[Alert, ...]:
    levels = values.get("tls.alert_message.level", _NONE)
    descriptions = values.get("tls.alert_message.desc", _NONE)
    pairs = zip(levels, descriptions, strict=False)
    alerts = [Alert(level=to_int(lv), description=to_int(d), encrypted=to_int(lv) == 0) for lv, d in pairs]
    hidden = len(values.get("tls.alert_message", _NONE)) - len(alerts)
    alerts += [Alert(level=0, description=0, encrypted=True)] * max(hidden, 0)
    return tuple(alerts)

"""tshark's field-selected PDML (`-T pdml -e FIELD ...`) → packet events, for captures without keys.

With `-e`, each <packet> holds the `geninfo` proto, then one flat <field name= value=/>
per value of the selected fields (`smtpdoc.pdml_args.FIELDS`), grouped by field name in the
order asked: tshark only has to prepare these fields, and the XML is a fifth of the pruned
tree's. geninfo's facts are asked for as fields too, and the block is dropped before lxml
reads the packet. What the flat form loses is which TLS record a value came from; without
decryption that is recoverable (TLS 1.3 protects only records after the cleartext ones of a
flight, and only one hello travels in a frame). Decrypted TLS needs the tree (`smtpdoc.pdml`): the
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
from smtpdoc.pdml import PdmlError, frame_cut, timestamp, to_int

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
    pending = b""  # the bytes after the last whole <packet> read so far
    while target.stop is None:
        chunk = read(_CHUNK)
        try:
            if chunk:
                data = pending + chunk
                last = data.rfind(_PACKET_END)
                if last < 0:
                    pending = data  # not one whole packet yet
                else:
                    end = last + len(_PACKET_END)
                    parser.feed(without_geninfo(data, end))
                    pending = data[end:]
            else:
                if pending:
                    parser.feed(pending)  # a document cut short: lxml says where
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


def without_geninfo(data: bytes, stop: int) -> bytes:
    """Whole packets of flat PDML (`data` up to `stop`) without their `geninfo` protos.

    tshark prints geninfo in every packet, even with `-e` (four fields of six attributes
    each: a third of the XML, and two fifths of the strings lxml would make). Its facts
    are asked for as fields instead (frame.number, frame.time_epoch, frame.len,
    frame.cap_len), so the block is dropped before lxml reads the bytes. It is cut at its
    two markers, which cannot occur inside a value: PDML escapes "<" in attributes.
    """
    find = data.find
    start = find(_GENINFO, 0, stop)
    parts = []
    at = 0
    while start >= 0:
        end = find(_GENINFO_END, start, stop)
        if end < 0:
            break
        parts.append(data[at:start])
        at = end + len(_GENINFO_END)
        start = find(_GENINFO, at, stop)
    parts.append(data[at:stop])
    return b"".join(parts)


_PACKET_END = b"</packet>"
_GENINFO = b'<proto name="geninfo"'
_GENINFO_END = b"</proto>"
_CHUNK = 1 << 20


class _Target:
    """Collects each <packet>'s field values by name and turns them into a Packet.

    Only `start` is defined: lxml then calls back once per element, not twice, and a
    packet is complete when the next one starts (or the document closes). A field's
    first value is kept as it is; a name seen again in the packet (TLS records, the
    layers of a tunnel) keeps all its values in order in `more`: most fields have one
    value, and a list for each would cost more than the rest of the collecting.
    """

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.more: dict[str, list[str]] = {}
        self.done: list[Packet] = []
        self.stop: int | None = None  # the first frame only the tree reader can read

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        if tag == "field":
            name = attrib.get("name", "")
            values = self.values
            if name in values:
                found = self.more.get(name)
                if found is None:
                    self.more[name] = [values[name], attrib.get("value", "")]
                else:
                    found.append(attrib.get("value", ""))
            else:
                values[name] = attrib.get("value", "")
        elif tag == "packet":
            self._finish()

    def close(self) -> None:
        self._finish()

    def _finish(self) -> None:
        values, more = self.values, self.more
        if not values:
            return
        self.values, self.more = {}, {}
        if self.stop is not None:
            return
        try:
            packet = _packet(values, more)
        except NeedsTree as switch:
            self.stop = switch.frame
            return
        if packet is not None:
            self.done.append(packet)


def _packet(values: dict[str, str], more: dict[str, list[str]]) -> Packet | None:
    get = values.get
    tcp_stream = get("tcp.stream")
    if tcp_stream is None:
        return None
    number = int(get("frame.number", "0"))
    ipv4 = get("ip.src")
    layered = more and ("tcp.stream" in more or "ip.src" in more or "ipv6.src" in more)
    if layered or (ipv4 is not None and "ipv6.src" in values) or ("tls" in values and "smtp" in values):
        # Tunnels, headers quoted in ICMP, SMTP next to TLS (tshark decrypted it): which
        # value belongs to which layer takes the tree. Plain SMTP is read from tcp.payload:
        # the smtp field is asked for only to see this.
        raise NeedsTree(number)
    payload = more["tcp.payload"][-1] if "tcp.payload" in more else get("tcp.payload")
    data = bytes.fromhex(payload) if payload else b""
    tls_layer = "tls" in values
    length = int(get("frame.len", "0"))
    caplen = int(get("frame.cap_len", "0"))
    cut = frame_cut(length, caplen, int(get("tcp.len", "0")), len(data)) if caplen < length else 0
    text = get("frame.time_epoch", "")
    try:
        seconds = float(text)
    except ValueError:
        seconds = timestamp(text)
    flags = get("tcp.flags", "")
    try:
        bits = int(flags, 16)
    except ValueError:
        bits = to_int(flags)
    return Packet(  # positional, in the order of Packet's fields: a third cheaper than keywords
        number,
        seconds,
        int(tcp_stream),
        get("ip.src" if ipv4 is not None else "ipv6.src", ""),
        get("ip.dst" if ipv4 is not None else "ipv6.dst", ""),
        int(get("tcp.srcport", "0")),
        int(get("tcp.dstport", "0")),
        bits,
        int(get("tcp.seq", "0")),
        int(get("tcp.ack", "0")),
        data,
        "tcp.analysis.retransmission" in values or "tcp.analysis.spurious_retransmission" in values,
        _records(values, more, number) if tls_layer else (),
        None,
        False,
        0,
        tls_layer,
        cut,
        caplen if cut else 0,
    )


class _Fields:
    """A TLS packet's fields: the first value of a name, or all of them in order."""

    __slots__ = ("more", "values")

    def __init__(self, values: dict[str, str], more: dict[str, list[str]]) -> None:
        self.values = values
        self.more = more

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def first(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def every(self, name: str) -> list[str]:
        found = self.more.get(name)
        if found is not None:
            return found
        value = self.values.get(name)
        return _NONE if value is None else [value]


def _records(values: dict[str, str], more: dict[str, list[str]], number: int) -> tuple[TlsRecord, ...]:
    if not more and "tls.handshake.type" not in values and "tls.alert_message" not in values:
        return _one_record(values, number)
    fields = _Fields(values, more)
    lengths = fields.every("tls.record.length")
    if not lengths:
        return ()
    opaque = fields.every("tls.record.opaque_type")
    cleartext = fields.every("tls.record.content_type")
    in_clear = len(lengths) - len(opaque)
    if len(cleartext) > in_clear:
        raise NeedsTree(number)  # a protected record's inner type: tshark decrypted it
    types = [to_int(t) for t in cleartext] + [0] * (in_clear - len(cleartext)) + [to_int(t) for t in opaque]
    versions: Sequence[str | None] = fields.every("tls.record.version")
    if len(versions) != len(lengths):
        versions = [None] * len(lengths)  # which record a version belongs to is unknown: none has one
    handshakes = _handshakes(fields) if "tls.handshake.type" in fields else ()
    alerts = _alerts(fields) if "tls.alert_message" in fields else ()
    records = []
    for ctype, length, version in zip(types, lengths, versions, strict=True):
        messages: tuple[TlsMessage, ...] = ()
        if handshakes and ctype == HANDSHAKE:
            messages, handshakes = handshakes, ()
        elif alerts and ctype == ALERT:
            messages, alerts = alerts, ()
        records.append(TlsRecord(ctype, to_int(length), to_int(version) if version is not None else None, messages))
    return tuple(records)


def _one_record(values: dict[str, str], number: int) -> tuple[TlsRecord, ...]:
    """`_records` for the common frame: at most one record, no handshake message or alert in it."""
    length = values.get("tls.record.length")
    if length is None:
        return ()
    opaque = values.get("tls.record.opaque_type")
    cleartext = values.get("tls.record.content_type")
    if opaque is not None and cleartext is not None:
        raise NeedsTree(number)  # a protected record's inner type: tshark decrypted it
    found = opaque if opaque is not None else cleartext
    version = values.get("tls.record.version")
    return (
        TlsRecord(
            to_int(found) if found is not None else 0,
            to_int(length),
            to_int(version) if version is not None else None,
            (),
        ),
    )


def _handshakes(fields: _Fields) -> tuple[TlsMessage, ...]:
    messages: list[TlsMessage] = []
    for text in fields.every("tls.handshake.type"):
        htype = to_int(text, -1)
        if htype == _HELLO_CLIENT:
            messages.append(_client_hello(fields))
        elif htype == _HELLO_SERVER:
            messages.append(_server_hello(fields))
        elif htype == _CERTIFICATE and "tls.handshake.certificate" in fields:
            messages.append(certificate(fields.first("tls.handshake.certificate")))
        elif htype >= 0:
            messages.append(HandshakeMessage(type=htype))
    return tuple(messages)


def _client_hello(fields: _Fields) -> ClientHello:
    versions = tuple(to_int(v) for v in fields.every("tls.handshake.extensions.supported_version"))
    legacy = to_int(fields.first("tls.handshake.version"))
    name = fields.values.get("tls.handshake.extensions_server_name")
    return ClientHello(
        sni=name,
        versions=versions or ((legacy,) if legacy else ()),
        cipher_count=len(fields.every("tls.handshake.ciphersuite")),
        alpn=tuple(fields.every("tls.handshake.extensions_alpn_str")),
        session_id=_colons(fields.first("tls.handshake.session_id")),
    )


def _server_hello(fields: _Fields) -> ServerHello:
    version = fields.values.get("tls.handshake.extensions.supported_version")
    return ServerHello(
        version=to_int(version if version is not None else fields.first("tls.handshake.version")),
        cipher=to_int(fields.first("tls.handshake.ciphersuite")),
        alpn=fields.values.get("tls.handshake.extensions_alpn_str"),
        psk=_EXT_PRE_SHARED_KEY in {to_int(t) for t in fields.every("tls.handshake.extension.type")},
        session_id=_colons(fields.first("tls.handshake.session_id")),
    )


def _colons(hex_text: str) -> str:
    """Bytes as the tree shows them ("0a:1b:..."); `-e` gives them without separators."""
    if ":" in hex_text:
        return hex_text
    return ":".join(hex_text[i : i + 2] for i in range(0, len(hex_text), 2))


def _alerts(fields: _Fields) -> tuple[Alert, ...]:
    levels = fields.every("tls.alert_message.level")
    descriptions = fields.every("tls.alert_message.desc")
    pairs = zip(levels, descriptions, strict=False)
    alerts = [Alert(level=to_int(lv), description=to_int(d), encrypted=to_int(lv) == 0) for lv, d in pairs]
    hidden = len(fields.every("tls.alert_message")) - len(alerts)
    alerts += [Alert(level=0, description=0, encrypted=True)] * max(hidden, 0)
    return tuple(alerts)

"""tshark's PDML tree → packet events: the reader for decrypted TLS (and shared helpers).

With keys, tshark shows TLS records nested with their decrypted contents, and only the
tree (`-T pdml -j PRUNED_TREE`, asked for by `smtpdoc.pdml_args`) keeps which value belongs
to which record; without keys the flat, field-selected form is read instead
(`smtpdoc.pdml_flat`, several times faster).
Only the readers and the modules that build tshark's arguments (pdml_args, narrow, follow)
know tshark field names.

The XML is parsed incrementally with `lxml.etree.iterparse`; each <packet> is
turned into a `Packet` and then cleared (with its already-processed siblings),
so memory stays flat whatever the size of the capture.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from lxml import etree

from smtpdoc.certificates import certificate
from smtpdoc.packets import (
    Alert,
    ClientHello,
    HandshakeMessage,
    Packet,
    ServerHello,
    TlsMessage,
    TlsRecord,
)

_IP_LINE = re.compile(r"Src: ([^,]+), Dst: (\S+)")

_HELLO_CLIENT = 1
_HELLO_SERVER = 2
_CERTIFICATE = 11
_EXT_PRE_SHARED_KEY = 41


def to_int(text: str | None, default: int = 0, *, base: int = 0) -> int:
    if not text:
        return default
    try:
        return int(text, base)
    except ValueError:
        try:
            return int(text, 16)
        except ValueError:
            return default


def frame_cut(length: int, caplen: int, tcp_len: int, captured: int) -> int:
    """Payload bytes a snap length left out: only when the frame itself was cut (cap_len < len)."""
    return max(tcp_len - captured, 0) if caplen < length else 0


def lengths(proto: etree._Element) -> tuple[int, int]:
    """Frame length and captured length from a packet's `geninfo` proto."""
    length = caplen = 0
    for f in proto:
        fname = f.get("name")
        if fname == "len":
            length = to_int(f.get("show"))
        elif fname == "caplen":
            caplen = to_int(f.get("show"))
    return length, caplen


def geninfo(proto: etree._Element) -> tuple[int, float]:
    """Frame number and capture time from a packet's `geninfo` proto."""
    number = 0
    time = 0.0
    for f in proto:
        fname = f.get("name")
        if fname == "num":
            number = to_int(f.get("show"))
        elif fname == "timestamp":
            time = timestamp(f.get("value") or "")
    return number, time


def timestamp(text: str) -> float:
    """Seconds since the epoch as tshark prints them, "SECONDS.NANOSECONDS".

    A damaged or crafted capture can make tshark print a negative fraction
    ("1783446909.-765352592"): it counts back from the seconds. Nonsense reads as 0.
    """
    try:
        return float(text)
    except ValueError:
        pass
    seconds, _, fraction = text.partition(".")
    digits = fraction.lstrip("-")
    try:
        whole = int(seconds)
        part = int(digits) / 10 ** len(digits) if digits else 0.0
    except ValueError:
        return 0.0
    return whole - part if fraction.startswith("-") else whole + part


class PdmlError(Exception):
    """The PDML stream ended in the middle of a packet or is not XML."""


def read_packets(stdout: IO[bytes]) -> Iterator[Packet]:
    """Yield one Packet per TCP <packet> in a PDML stream."""
    context = etree.iterparse(stdout, events=("end",), tag="packet", huge_tree=True)
    try:
        for _event, elem in context:
            packet = _packet(elem)
            elem.clear(keep_tail=False)
            parent = elem.getparent()
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
            if packet is not None:
                yield packet
    except etree.XMLSyntaxError as exc:
        # tshark stopped mid-document (killed, file cut short): what we yielded stands.
        raise PdmlError(str(exc)) from None


def _packet(elem: etree._Element) -> Packet | None:
    number = 0
    time = 0.0
    src = dst = ""
    tcp: dict[str, str] = {}
    payload = b""
    retrans = False
    records: list[TlsRecord] = []
    tls_layer = False
    decrypted = False
    decrypted_size = 0
    length = caplen = 0
    for proto in elem:
        name = proto.get("name")
        if name == "geninfo":
            number, time = geninfo(proto)
            length, caplen = lengths(proto)
        elif name in ("ip", "ipv6"):
            # Only the header line is asked for (see pdml_args.PRUNED_TREE), "... Src: a, Dst: b": the
            # twenty-odd IP fields would be a third of the XML. The innermost header wins.
            match = _IP_LINE.search(proto.get("showname") or "")
            if match:
                src, dst = match[1], match[2]
        elif name == "tcp":
            # Direct children only: walking every nested field costs a quarter of the parse.
            for f in proto:
                fname = f.get("name") or ""
                if fname == "tcp.payload":
                    payload = bytes.fromhex(f.get("value") or "")
                elif fname == "tcp.analysis":
                    retrans = retrans or any(g.get("name") in _RETRANSMISSION for g in f.iter("field"))
                elif fname in _TCP_FIELDS and fname not in tcp:
                    tcp[fname] = f.get("show") or ""
        elif name == "tls":
            tls_layer = True
            for f in proto:
                if f.get("name") == "tls.record":
                    records.append(_record(f))
        elif name == "smtp" and tls_layer:
            # tshark decrypted this frame. Its SMTP fields do not give back the exact bytes
            # (multi-line replies and message data lose theirs), so the inner dialogue is not
            # rebuilt from them; the session only records that decryption worked.
            decrypted = True
            decrypted_size += int(proto.get("size") or 0)
    if "tcp.stream" not in tcp:
        return None
    cut = frame_cut(length, caplen, int(tcp.get("tcp.len", "0")), len(payload))
    return Packet(
        number=number,
        time=time,
        stream=int(tcp["tcp.stream"]),
        src=src,
        dst=dst,
        sport=int(tcp.get("tcp.srcport", "0")),
        dport=int(tcp.get("tcp.dstport", "0")),
        flags=to_int(tcp.get("tcp.flags")),
        seq=int(tcp.get("tcp.seq", "0")),
        ack_number=int(tcp.get("tcp.ack", "0")),
        payload=payload,
        retransmission=retrans,
        tls=tuple(records),
        decrypted=decrypted,
        decrypted_size=decrypted_size,
        tls_layer=tls_layer,
        cut=cut,
        snaplen=caplen if cut else 0,
    )


_RETRANSMISSION = frozenset({"tcp.analysis.retransmission", "tcp.analysis.spurious_retransmission"})
_TCP_FIELDS = frozenset({"tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq", "tcp.ack", "tcp.len"})


def _record(rec: etree._Element) -> TlsRecord:
    content_type = 0
    inner_type: int | None = None
    length = 0
    version: int | None = None
    messages: list[TlsMessage] = []
    for f in rec:
        fname = f.get("name")
        if fname == "tls.record.opaque_type":
            content_type = to_int(f.get("show"))
        elif fname == "tls.record.content_type":
            inner_type = to_int(f.get("show"))
            content_type = content_type or inner_type
        elif fname == "tls.record.length":
            length = to_int(f.get("show"))
        elif fname == "tls.record.version":
            version = to_int(f.get("show"))
        elif fname == "tls.handshake":
            msg = _handshake(f)
            if msg is not None:
                messages.append(msg)
        elif fname == "tls.alert_message":
            messages.append(_alert(f))
    return TlsRecord(
        content_type=content_type, length=length, version=version, messages=tuple(messages), inner_type=inner_type
    )


def _alert(f: etree._Element) -> Alert:
    level = desc = 0
    for child in f.iter("field"):
        cname = child.get("name")
        if cname == "tls.alert_message.level":
            level = to_int(child.get("show"))
        elif cname == "tls.alert_message.desc":
            desc = to_int(child.get("show"))
    return Alert(level=level, description=desc, encrypted=level == 0)


def _handshake(hs: etree._Element) -> TlsMessage | None:
    fields: dict[str, list[str]] = {}
    subtree_cert: etree._Element | None = None
    for f in hs.iter("field"):
        fname = f.get("name") or ""
        if fname == "tls.handshake.certificate" and subtree_cert is None:
            subtree_cert = f
        fields.setdefault(fname, []).append(f.get("show") or "")
    htype = to_int((fields.get("tls.handshake.type") or [""])[0], -1)
    if htype < 0:
        return None
    versions = tuple(to_int(v) for v in fields.get("tls.handshake.extensions.supported_version", []))
    legacy = to_int((fields.get("tls.handshake.version") or [""])[0])
    alpn = tuple(fields.get("tls.handshake.extensions_alpn_str", []))
    if htype == _HELLO_CLIENT:
        names = fields.get("tls.handshake.extensions_server_name")
        sni = names[0] if names else None
        return ClientHello(
            sni=sni,
            versions=versions or ((legacy,) if legacy else ()),
            cipher_count=len(fields.get("tls.handshake.ciphersuite", [])),
            alpn=alpn,
            session_id=(fields.get("tls.handshake.session_id") or [""])[0],
        )
    if htype == _HELLO_SERVER:
        return ServerHello(
            version=versions[0] if versions else legacy,
            cipher=to_int((fields.get("tls.handshake.ciphersuite") or [""])[0]),
            alpn=alpn[0] if alpn else None,
            psk=_EXT_PRE_SHARED_KEY in {to_int(t) for t in fields.get("tls.handshake.extension.type", [])},
            session_id=(fields.get("tls.handshake.session_id") or [""])[0],
        )
    if htype == _CERTIFICATE and subtree_cert is not None:
        return certificate(subtree_cert.get("value") or "")
    return HandshakeMessage(type=htype)

"""How much of a capture's head is SMTP, read from the file itself (pcap or pcapng), without tshark.

The narrowing decision (`smtpdoc.narrow`) needs one number: of the first frames, how many
are TCP on an SMTP port. Python reads that from the file's first few thousand frames in a
few milliseconds, where a tshark pass started only to find out costs a tshark start-up
and a dissection of those frames (0.3 CPU-s on a 1,000-session capture, measured in
bench/README.md). Only the common link layers are known (Ethernet with VLAN tags, Linux
cooked v1 and v2, BSD loopback, raw IP); anything else, a compressed file or a damaged
head answers None, and the caller decides as before, with tshark.

This is a speed heuristic, never a reading: what the file holds is still said by tshark.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

# Link-layer types (LINKTYPE_* of the pcap and pcapng specifications).
_NULL = 0  # BSD loopback: 4-byte address family in the writer's byte order
_ETHERNET = 1
_RAW = (12, 14, 101, 228, 229)  # IP first (raw, IPv4, IPv6)
_LOOP = 108  # OpenBSD loopback: the family in network byte order
_SLL = 113
_SLL2 = 276
_IPV4 = 0x0800
_IPV6 = 0x86DD
_VLANS = (0x8100, 0x88A8, 0x9100)
_AF_INET6 = (10, 24, 28, 30)  # Linux, BSDs, macOS, ... (AF_INET is 2 everywhere)
_TCP = 6

_PCAP_MAGIC = {
    b"\xd4\xc3\xb2\xa1": "<",
    b"\x4d\x3c\xb2\xa1": "<",
    b"\xa1\xb2\xc3\xd4": ">",
    b"\xa1\xb2\x3c\x4d": ">",
}
_SECTION = b"\x0a\x0d\x0d\x0a"
_BYTE_ORDER_LITTLE = b"\x4d\x3c\x2b\x1a"  # the section's byte-order magic, written little-endian
_INTERFACE = 1
_PACKET_OBSOLETE = 2
_SIMPLE_PACKET = 3
_ENHANCED_PACKET = 6
_MAX_BLOCK = 16 << 20  # a larger block in a file's head means damage: give up
_PACKET_BLOCK_HEAD = 20  # an enhanced (or obsolete) packet block's fields before the frame
# Bytes of each frame read: enough for Ethernet, two VLAN tags, IP with options and the TCP
# ports; the rest is skipped (loopback captures often hold 64 KiB frames).
_FRAME_HEAD = 128


def smtp_share(path: str, ports: frozenset[int], frames: int) -> float | None:
    """The share of the first `frames` frames that are TCP to or from one of `ports` (None: cannot tell)."""
    try:
        with open(path, "rb") as f:
            return _share(f, ports, frames)
    except (OSError, struct.error, ValueError):
        return None


def _share(f: BinaryIO, ports: frozenset[int], frames: int) -> float | None:
    head = f.read(4)
    if head in _PCAP_MAGIC:
        found = _pcap_frames(f, _PCAP_MAGIC[head], frames)
    elif head == _SECTION:
        found = _pcapng_frames(f, frames)
    else:
        return None  # not a capture this module reads (gzip, another format)
    if found is None:
        return None
    seen = smtp = 0
    for link, data in found:
        seen += 1
        tcp_ports = _tcp_ports(link, data)
        if tcp_ports is None:
            if link < 0:
                return None  # a link layer this module does not know
        elif tcp_ports[0] in ports or tcp_ports[1] in ports:
            smtp += 1
    return smtp / seen if seen else None


def _pcap_frames(f: BinaryIO, order: str, frames: int) -> list[tuple[int, bytes]] | None:
    rest = f.read(20)
    if len(rest) < 20:
        return None
    link = struct.unpack(order + "I", rest[16:20])[0] & 0xFFFF
    record = struct.Struct(order + "IIII")
    found: list[tuple[int, bytes]] = []
    while len(found) < frames:
        header = f.read(16)
        if len(header) < 16:
            break
        caplen = record.unpack(header)[2]
        if caplen > _MAX_BLOCK:
            return None
        data = f.read(min(caplen, _FRAME_HEAD))
        _skip(f, caplen - len(data))
        found.append((_known(link), data))
    return found


def _pcapng_frames(f: BinaryIO, frames: int) -> list[tuple[int, bytes]] | None:
    f.seek(0)
    order = "<"
    links: list[int] = []
    found: list[tuple[int, bytes]] = []
    while len(found) < frames:
        head = f.read(12)  # block type, total length, and 4 bytes more (the body's first, or the closing length)
        if len(head) < 12:
            break
        if head[:4] == _SECTION:
            order = "<" if head[8:] == _BYTE_ORDER_LITTLE else ">"
            links = []  # a new section numbers its interfaces from 0
        block_type, length = struct.unpack(order + "II", head[:8])
        if length < 12 or length > _MAX_BLOCK:
            return None
        body_length = length - 12
        want = min(body_length, _PACKET_BLOCK_HEAD + _FRAME_HEAD)  # a packet block's fields, the frame's start
        more = f.read(max(want - 4, 0))
        body = (head[8:] + more)[:want]
        if len(body) < want:
            break
        _skip(f, body_length - len(more))  # the rest of the body and the closing length
        if block_type == _INTERFACE:
            links.append(_known(struct.unpack(order + "H", body[:2])[0]))
        elif block_type in (_ENHANCED_PACKET, _PACKET_OBSOLETE):
            interface = struct.unpack(order + "I", body[:4])[0]
            if block_type == _PACKET_OBSOLETE:
                interface = struct.unpack(order + "H", body[:2])[0]
            caplen = struct.unpack(order + "I", body[12:16])[0]
            data = body[_PACKET_BLOCK_HEAD : _PACKET_BLOCK_HEAD + caplen]
            found.append((links[interface] if interface < len(links) else -1, data))
        elif block_type == _SIMPLE_PACKET:
            found.append((links[0] if links else -1, body[4:]))
    return found


def _skip(f: BinaryIO, size: int) -> None:
    # A read is cheaper than a seek for the small skips of most frames (a seek empties the buffer).
    if size > _SEEK_FROM:
        f.seek(size, 1)
    elif size > 0:
        f.read(size)


_SEEK_FROM = 64 << 10


def _known(link: int) -> int:
    """The link type, or -1 when this module cannot read its frames."""
    return link if link in (_NULL, _ETHERNET, _LOOP, _SLL, _SLL2, *_RAW) else -1


def _tcp_ports(link: int, data: bytes) -> tuple[int, int] | None:
    """(source port, destination port) of a TCP frame; None for anything else."""
    if link == _ETHERNET:
        kind, at = int.from_bytes(data[12:14], "big"), 14
        while kind in _VLANS:
            kind, at = int.from_bytes(data[at + 2 : at + 4], "big"), at + 4
        return _ip_ports(data, at) if kind in (_IPV4, _IPV6) else None
    if link == _SLL:
        return _ip_ports(data, 16) if int.from_bytes(data[14:16], "big") in (_IPV4, _IPV6) else None
    if link == _SLL2:
        return _ip_ports(data, 20) if int.from_bytes(data[0:2], "big") in (_IPV4, _IPV6) else None
    if link in (_NULL, _LOOP):
        family = max(int.from_bytes(data[:4], "little"), int.from_bytes(data[:4], "big"))
        return _ip_ports(data, 4) if family == 2 or family in _AF_INET6 else None
    if link in _RAW:
        return _ip_ports(data, 0)
    return None


def _ip_ports(data: bytes, at: int) -> tuple[int, int] | None:
    if len(data) < at + 1:
        return None
    version = data[at] >> 4
    if version == 4:
        header = (data[at] & 0x0F) * 4
        fragment = int.from_bytes(data[at + 6 : at + 8], "big") & 0x1FFF
        if data[at + 9 : at + 10] != bytes([_TCP]) or fragment:
            return None
        at += header
    elif version == 6:
        if data[at + 6 : at + 7] != bytes([_TCP]):
            return None  # extension headers first: rare in SMTP, not worth walking here
        at += 40
    else:
        return None
    if len(data) < at + 4:
        return None
    return int.from_bytes(data[at : at + 2], "big"), int.from_bytes(data[at + 2 : at + 4], "big")

"""Packet comments in a pcapng file, rewritten block by block.

`rewrite_comments` copies a pcapng file and changes only the comment options of its packet
blocks: every block it does not need to touch (section and interface headers, decryption
secrets, name resolution, statistics, custom blocks) is copied byte for byte, in place. editcap
can only add comments, so re-annotating needs this to remove smtpdoc's earlier ones.

Format: draft-ietf-opsawg-pcapng (block = type, total length, body, total length; options =
code, length, value padded to 32 bits, ended by opt_endofopt). Frames are numbered the way
Wireshark does: each Enhanced, obsolete or Simple Packet Block (and systemd journal entry)
is the next frame, across sections.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import BinaryIO, NamedTuple

SECTION_HEADER = 0x0A0D0D0A
PACKET_OBSOLETE = 0x00000002
SIMPLE_PACKET = 0x00000003
ENHANCED_PACKET = 0x00000006
SYSTEMD_JOURNAL = 0x00000009
DECRYPTION_SECRETS = 0x0000000A
TLS_KEY_LOG = 0x544C534B  # a Decryption Secrets Block's secrets type: an NSS key log ("TLSK")
_FRAMES = {PACKET_OBSOLETE, SIMPLE_PACKET, ENHANCED_PACKET, SYSTEMD_JOURNAL}
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_END = 0
OPT_COMMENT = 1
MAX_OPTION = 0xFFFF
MAX_BLOCK = 256 * 1024 * 1024  # Wireshark refuses larger blocks too


class PcapngError(ValueError):
    """The file is not a pcapng file this module can rewrite (the sentence says why)."""


class PcapngCut(PcapngError):
    """The file ends inside a block (a capture cut short)."""


class Rewritten(NamedTuple):
    frames: set[int]  # the frames that received their comments
    cut_short: bool  # the source ended inside a block: every complete block before it was copied


def _pad(length: int) -> int:
    return -length % 4


def is_pcapng(head: bytes) -> bool:
    return len(head) >= 4 and struct.unpack("<I", head[:4])[0] == SECTION_HEADER


def _blocks(src: BinaryIO) -> Iterator[tuple[str, int, bytes]]:
    """(byte order '<' or '>', block type, whole block) for every block of the file."""
    order = "<"
    while True:
        head = src.read(8)
        if not head:
            return
        if len(head) < 8:
            raise PcapngCut("the file ends inside a block header")
        if struct.unpack("<I", head[:4])[0] == SECTION_HEADER:
            magic = src.read(4)
            if len(magic) < 4:
                raise PcapngCut("the file ends inside a section header")
            order = "<" if struct.unpack("<I", magic)[0] == _BYTE_ORDER_MAGIC else ">"
            if struct.unpack(order + "I", magic)[0] != _BYTE_ORDER_MAGIC:
                raise PcapngError("a section header has no valid byte-order magic")
            head += magic
        kind, length = struct.unpack(order + "II", head[:8])
        if length < 12 or length % 4 or length > MAX_BLOCK:
            raise PcapngError(f"a block has an impossible length ({length} bytes)")
        rest = src.read(length - len(head))
        if len(rest) < length - len(head):
            raise PcapngCut("the file ends inside a block")
        yield order, kind, head + rest


def options(body: bytes, order: str) -> list[tuple[int, bytes]]:
    """The options at the start of `body` (the part of a block after its fixed fields)."""
    out: list[tuple[int, bytes]] = []
    at = 0
    while at + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, at)
        if code == OPT_END:
            break
        value = body[at + 4 : at + 4 + length]
        if len(value) < length:
            raise PcapngError("an option runs past the end of its block")
        out.append((code, value))
        at += 4 + length + _pad(length)
    return out


def _option(code: int, value: bytes, order: str) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * _pad(len(value))


def _fixed_size(kind: int, block: bytes, order: str) -> int | None:
    """Bytes of the block before its options (header included), or None when it has none.

    An Enhanced and an obsolete Packet Block both keep the captured length at offset 20 and
    the packet data from offset 28."""
    if kind not in (ENHANCED_PACKET, PACKET_OBSOLETE):
        return None
    captured: int = struct.unpack_from(order + "I", block, 20)[0]
    return 28 + captured + _pad(captured)


def utf8_prefix(text: str, limit: int) -> bytes:
    """`text` as UTF-8, cut to at most `limit` bytes between two characters."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return data
    return data[:limit].decode("utf-8", "ignore").encode("utf-8")


def block_comments(kind: int, block: bytes, order: str) -> list[str]:
    """The comments of one packet block (an empty list for blocks without options)."""
    fixed = _fixed_size(kind, block, order)
    if fixed is None or fixed > len(block) - 4:
        return []
    found = options(block[fixed:-4], order)
    return [value.decode("utf-8", "replace") for code, value in found if code == OPT_COMMENT]


def _comment_value(text: str | bytes) -> bytes:
    """A comment option's value: text as UTF-8 cut between characters; bytes (a test writing
    what a broken or hostile writer would) as they are, cut to the largest option."""
    return text[:MAX_OPTION] if isinstance(text, bytes) else utf8_prefix(text, MAX_OPTION)


def _rewritten(
    kind: int, block: bytes, order: str, drop: Callable[[str], bool], add: Sequence[str | bytes]
) -> bytes | None:
    fixed = _fixed_size(kind, block, order)
    if fixed is None:
        return None
    if fixed > len(block) - 4:
        raise PcapngError("a packet block is shorter than its captured length")
    old = options(block[fixed:-4], order)
    kept = [(c, v) for c, v in old if not (c == OPT_COMMENT and drop(v.decode("utf-8", "replace")))]
    if not add and len(kept) == len(old):
        return block  # nothing to change: the block stays byte for byte
    kept += [(OPT_COMMENT, _comment_value(text)) for text in add]
    tail = b"".join(_option(code, value, order) for code, value in kept)
    if tail:
        tail += _option(OPT_END, b"", order)
    body = block[8:fixed] + tail
    length = len(body) + 12
    if length > MAX_BLOCK:
        raise PcapngError("a packet block would grow past the largest block Wireshark reads")
    return struct.pack(order + "II", kind, length) + body + struct.pack(order + "I", length)


def rewrite_comments(
    src: BinaryIO, dst: BinaryIO, comments: Mapping[int, Sequence[str | bytes]], drop: Callable[[str], bool]
) -> Rewritten:
    """Copy `src` to `dst`: on every packet block, remove the comments `drop` says are stale and
    append `comments[frame]`. A Simple Packet Block has no room for options, so its frame is
    left out; a file cut short is copied up to its last complete block."""
    written: set[int] = set()
    frame = 0
    first = True
    try:
        for order, kind, block in _blocks(src):
            if first and kind != SECTION_HEADER:
                raise PcapngError("the file does not start with a pcapng section header")
            first = False
            if kind in _FRAMES:
                frame += 1
                new = _rewritten(kind, block, order, drop, comments.get(frame, ()))
                if new is not None:
                    block = new
                    if frame in comments:
                        written.add(frame)
            dst.write(block)
    except PcapngCut:
        if first:
            raise
        return Rewritten(written, cut_short=True)
    if first:
        raise PcapngError("the file is empty")
    return Rewritten(written, cut_short=False)


def read_comments(src: BinaryIO) -> dict[int, list[str]]:
    """Frame number → its comments, for every frame that has one."""
    out: dict[int, list[str]] = {}
    frame = 0
    for order, kind, block in _blocks(src):
        if kind in _FRAMES:
            frame += 1
            found = block_comments(kind, block, order)
            if found:
                out[frame] = found
    return out


def has_tls_secrets(src: BinaryIO) -> bool:
    """Does the file carry a TLS key log in a Decryption Secrets Block (editcap --inject-secrets)?

    Only block headers are read; every other block is skipped with a seek."""
    order = "<"
    first = True
    while True:
        head = src.read(12)
        if len(head) < 12:
            return False
        if struct.unpack("<I", head[:4])[0] == SECTION_HEADER:
            order = "<" if struct.unpack("<I", head[8:12])[0] == _BYTE_ORDER_MAGIC else ">"
        elif first:
            return False  # not a pcapng file
        first = False
        kind, length, first_word = struct.unpack(order + "III", head)
        if kind == DECRYPTION_SECRETS and first_word == TLS_KEY_LOG:
            return True
        if length < 12 or length % 4 or length > MAX_BLOCK:
            return False
        src.seek(length - 12, 1)


def frame_count(src: BinaryIO) -> int:
    """How many frames Wireshark numbers in the file."""
    return sum(1 for _, kind, _ in _blocks(src) if kind in _FRAMES)

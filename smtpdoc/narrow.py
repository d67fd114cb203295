"""Narrowing a large capture to its SMTP candidates before the field pass.

Any tshark pass that prints fields prepares them for every packet, even the ones its
display filter drops, so on a capture where SMTP is a small share (an analyst's normal
case) the field pass would cost what it costs on all of it. A filter alone is cheap:
one pass keeps the candidates (SMTP ports, IP fragments, and packets whose payload
starts a line like an SMTP greeting or first command), writes them to a temporary
file with `-w`, and prints each one's original frame and stream number through two
columns. The field pass then reads that small file; `Renumber` gives its packets the
original numbers back, so every output speaks of the capture the user gave.

Candidates on other ports mean SMTP that only its content shows: the whole capture
is read as before. (A limit of this: on another port, SMTP whose greeting or commands
never start a TCP segment's line, e.g. "2" and "20 ready" sent apart, is not seen in a
narrowed capture; `--decode-as PORT` makes the port an SMTP port.)

Whether to narrow is decided from the capture file's first WINDOW frames, read by Python
(`smtpdoc.capture_head`): mostly SMTP, the field pass reads the whole capture and no
narrowing pass starts; little SMTP, only the narrowing pass starts. When Python cannot
read the file's head (a compressed file, an unusual link layer), both passes start, and
the narrowing pass's first WINDOW frames decide as the head would have.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # only named in annotations: the head start imports this module before any packet
    from smtpdoc.packets import Packet

# Captures smaller than this are read whole: a second tshark would cost more than it saves.
MIN_BYTES = 4 << 20
# Frames looked at before deciding; narrowing pays when fewer than SPARSE of them are kept.
WINDOW = 5000
SPARSE = 0.5
_SIGNS = 'tcp.payload matches "(?im)^(220[ \\r-]|ehlo[ \\r]|helo[ \\r]|mail from:)"'
_FRAGMENTS = "ip.flags.mf == 1 || ip.frag_offset > 0 || ipv6.fragment"
# Each kept packet's summary line: original frame, stream, ports.
_COLUMNS = '"N","%m","S","%Cus:tcp.stream","P","%Cus:tcp.srcport","Q","%Cus:tcp.dstport"'


def narrowing_args(capture: str, small: str, ports: Sequence[int]) -> list[str]:
    keep = f"tcp.port in {{{', '.join(str(p) for p in sorted(ports))}}} || {_SIGNS} || {_FRAGMENTS}"
    return ["-n", "-r", capture, "-Y", keep, "-w", small, "-F", "pcapng", "-P", "-o", f"gui.column.format:{_COLUMNS}"]


@dataclass
class Renumber:
    """Original frame and stream numbers of the packets in the narrowed file, by position."""

    frames: list[int]
    streams: dict[int, int]  # stream in the small file → stream in the capture

    def packet(self, packet: Packet) -> Packet:
        number = self.frames[packet.number - 1] if 0 < packet.number <= len(self.frames) else packet.number
        return replace(packet, number=number, stream=self.streams.get(packet.stream, packet.stream))

    def original_frame(self, small_frame: int) -> int:
        return self.frames[small_frame - 1] if 0 < small_frame <= len(self.frames) else small_frame


@dataclass
class Kept:
    """What the narrowing pass printed, line by line: frame, stream, source and destination port."""

    frames: list[int]
    streams: list[int | None]
    off_port: bool = False  # a candidate not on an SMTP port: SMTP found by content

    def renumber(self) -> Renumber:
        # tshark numbers the streams of the small file in order of appearance.
        order: dict[int, int] = {}
        for stream in self.streams:
            if stream is not None and stream not in order:
                order[stream] = len(order)
        return Renumber(frames=self.frames, streams={small: original for original, small in order.items()})


def read_kept(lines: IO[bytes], ports: frozenset[int], kept: Kept, *, until: int | None = None) -> bool:
    """Read summary lines into `kept`; with `until`, stop at the first frame past it (True then)."""
    for raw in lines:
        fields = raw.split()
        if not fields or not fields[0].isdigit():
            continue
        frame = int(fields[0])
        kept.frames.append(frame)
        numbers = [int(f) if f.isdigit() else None for f in fields[1:4]] + [None, None, None]
        stream, sport, dport = numbers[0], numbers[1], numbers[2]
        kept.streams.append(stream)
        if stream is not None and sport not in ports and dport not in ports:
            kept.off_port = True
        if until is not None and frame > until:
            return True
    return False


def sparse(kept: Kept) -> bool:
    """Fewer than SPARSE of the first WINDOW frames were kept (call after read_kept(until=WINDOW))."""
    within = sum(1 for frame in kept.frames if frame <= WINDOW)
    return within < SPARSE * WINDOW


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
    proc.wait()

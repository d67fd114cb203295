"""Make a busy-server capture: one recorded SMTP session replayed N times, back to back.

    python bench/make_capture.py N OUT.pcapng [--source examples/starttls.pcapng]
    python bench/make_capture.py --mixed N OUT.pcapng    # N SMTP sessions among 100*N HTTPS-like ones

Every copy gets its own client port, its own initial sequence numbers and
timestamps shifted so that copy i starts after copy i-1 has ended (with a
small gap): consecutive, non-overlapping sessions, as a mail server's log of
one connection after another. Addresses are kept as recorded (loopback).
TCP and IP checksums are recomputed so that tshark sees well-formed packets.

Needs dpkt (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dpkt

DEFAULT_SOURCE = Path(__file__).resolve().parent.parent / "examples" / "starttls.pcapng"
# Client ports are taken from this range, away from every SMTP port (25, 465, 587, 2525)
# so that no copy could be mistaken for a server; more copies than ports wrap around.
FIRST_CLIENT_PORT = 20000
LAST_CLIENT_PORT = 65535
# Silence between the end of one copy and the start of the next.
GAP_SECONDS = 0.005
# Per-copy shift of both sides' initial sequence numbers (odd, so they do not repeat soon).
SEQ_STRIDE = 0x9E3779B1
# Bump when the output for the same source and N changes, so cached captures are rebuilt.
GENERATOR_VERSION = 2


@dataclass(frozen=True)
class Template:
    """The recorded session, parsed once."""

    frames: list[tuple[float, dpkt.ethernet.Ethernet]]
    client_port: int
    duration: float


class SourceError(Exception):
    """The source capture is not one Ethernet/IPv4 TCP session that starts with a SYN."""


def read_template(source: Path) -> Template:
    frames: list[tuple[float, dpkt.ethernet.Ethernet]] = []
    with source.open("rb") as f:
        reader = dpkt.pcapng.Reader(f) if _is_pcapng(source) else dpkt.pcap.Reader(f)
        if reader.datalink() != dpkt.pcap.DLT_EN10MB:
            raise SourceError(f"{source}: link type {reader.datalink()} is not Ethernet")
        for ts, buf in reader:
            eth = dpkt.ethernet.Ethernet(buf)
            if not isinstance(eth.data, dpkt.ip.IP) or not isinstance(eth.data.data, dpkt.tcp.TCP):
                raise SourceError(f"{source}: frame {len(frames) + 1} is not IPv4/TCP")
            frames.append((float(ts), eth))
    if not frames:
        raise SourceError(f"{source}: no packets")
    syn = frames[0][1].data.data
    if not syn.flags & dpkt.tcp.TH_SYN or syn.flags & dpkt.tcp.TH_ACK:
        raise SourceError(f"{source}: the first frame is not the client's SYN")
    return Template(frames=frames, client_port=syn.sport, duration=frames[-1][0] - frames[0][0])


def _is_pcapng(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"\x0a\x0d\x0d\x0a"


def client_port(index: int) -> int:
    return FIRST_CLIENT_PORT + index % (LAST_CLIENT_PORT - FIRST_CLIENT_PORT + 1)


def replay(template: Template, count: int, first_index: int = 0) -> Iterator[tuple[float, bytes]]:
    """(timestamp, frame bytes) of `count` consecutive copies of the template session."""
    start = template.frames[0][0]
    period = template.duration + GAP_SECONDS
    for index in range(first_index, first_index + count):
        port = client_port(index)
        shift = (index - first_index) * period
        seq_shift = (index * SEQ_STRIDE) & 0xFFFFFFFF
        for ts, eth in template.frames:
            ip = eth.data
            tcp = ip.data
            saved = (tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.sum, ip.sum)
            if tcp.sport == template.client_port:
                tcp.sport = port
            if tcp.dport == template.client_port:
                tcp.dport = port
            tcp.seq = (tcp.seq + seq_shift) & 0xFFFFFFFF
            if tcp.flags & dpkt.tcp.TH_ACK:
                tcp.ack = (tcp.ack + seq_shift) & 0xFFFFFFFF
            tcp.sum = 0  # dpkt recomputes zeroed checksums when packing
            ip.sum = 0
            frame = bytes(eth)
            tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.sum, ip.sum = saved
            yield start + shift + (ts - start), frame


# The HTTPS-like session: the template's TCP handshake, its TLS handshake and first
# records, and its close, on port 443 (frame numbers of examples/starttls.pcapng).
HTTPS_FRAMES = (1, 2, 3, *range(11, 21), 27, 28, 29, 30)
HTTPS_PORT = 443
HTTPS_PER_SMTP = 100


def https_like(template: Template, port: int, start: float, isn: tuple[int, int]) -> Iterator[tuple[float, bytes]]:
    """One TLS-on-443 session made of the template's TLS frames, sequence numbers redone."""
    picked = [template.frames[n - 1] for n in HTTPS_FRAMES if n <= len(template.frames)]
    first = picked[0][0]
    sent = [0, 0]  # bytes (SYN and FIN count one) sent by the client, by the server
    for ts, eth in picked:
        ip = eth.data
        tcp = ip.data
        saved = (tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.sum, ip.sum)
        by_client = tcp.sport == template.client_port
        me, peer = (0, 1) if by_client else (1, 0)
        tcp.sport, tcp.dport = (port, HTTPS_PORT) if by_client else (HTTPS_PORT, port)
        tcp.seq = (isn[me] + sent[me]) & 0xFFFFFFFF
        tcp.ack = (isn[peer] + sent[peer]) & 0xFFFFFFFF if tcp.flags & dpkt.tcp.TH_ACK else 0
        sent[me] += len(tcp.data) + (1 if tcp.flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN) else 0)
        tcp.sum = 0
        ip.sum = 0
        frame = bytes(eth)
        tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.sum, ip.sum = saved
        yield start + (ts - first), frame


def mixed(template: Template, smtp_sessions: int) -> Iterator[tuple[float, bytes]]:
    """HTTPS_PER_SMTP HTTPS-like sessions, then one SMTP copy, SMTP_SESSIONS times."""
    start = template.frames[0][0]
    smtp_period = template.duration + GAP_SECONDS
    https_period = 0.05
    index = 0
    for round_ in range(smtp_sessions):
        for _ in range(HTTPS_PER_SMTP):
            isn = ((index * SEQ_STRIDE) & 0xFFFFFFFF, (index * SEQ_STRIDE * 3) & 0xFFFFFFFF)
            yield from https_like(template, client_port(index), start, isn)
            start += https_period
            index += 1
        for ts, frame in replay(template, 1, first_index=round_ + LAST_CLIENT_PORT):
            yield start + (ts - template.frames[0][0]), frame
        start += smtp_period


def source_digest(source: Path) -> str:
    """Short identity of (source bytes, generator version), for cache file names."""
    h = hashlib.sha256(source.read_bytes())
    h.update(f"v{GENERATOR_VERSION}".encode())
    return h.hexdigest()[:12]


def write_capture(source: Path, count: int, out: Path, *, mix: bool = False) -> int:
    """Write `count` copies of `source` to `out` (pcapng); return the number of frames.

    With `mix`, the copies are spread among HTTPS_PER_SMTP times as many HTTPS-like sessions.
    """
    template = read_template(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    frames = 0
    with tmp.open("wb") as f:
        writer = dpkt.pcapng.Writer(f, snaplen=262144, linktype=dpkt.pcap.DLT_EN10MB)
        for ts, frame in mixed(template, count) if mix else replay(template, count):
            writer.writepkt(frame, ts=ts)
            frames += 1
    tmp.replace(out)
    return frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int, help="number of sessions")
    parser.add_argument("out", type=Path, help="output pcapng")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="recorded session (pcap or pcapng)")
    parser.add_argument("--mixed", action="store_true", help=f"among {HTTPS_PER_SMTP}x as many HTTPS-like sessions")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error(f"count must be at least 1, not {args.count}")
    if not args.source.exists():
        parser.error(f"source capture '{args.source}' does not exist (run examples/make_examples.sh)")
    try:
        frames = write_capture(args.source, args.count, args.out, mix=args.mixed)
    except SourceError as exc:
        print(f"make_capture: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {args.count} sessions, {frames} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The tshark passes behind `explain`: PDML in, packet events out, decrypted bytes attached.

Without keys, one field-selected PDML pass (`smtpdoc.pdml_flat`) reads the capture:
tshark prepares only the fields the reader needs. With a key log, or from the first
frame that shows tshark decrypted something (keys embedded in a pcapng), the tree form
(`smtpdoc.pdml`) is read instead, from that frame on: tshark dissects every frame in
either pass, so the frames before it read the same in both.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import IO

from smtpdoc import capture_head, follow, narrow, pdml, pdml_args, pdml_flat
from smtpdoc import tshark as tshark_mod
from smtpdoc.packets import Packet
from smtpdoc.tshark import Spawned, Tshark

__all__ = ["First", "Outcome", "Spawned", "decode_as_rules", "packets", "start"]


@dataclass
class Outcome:
    """How the tshark pass ended; filled when the session iterator is exhausted."""

    frames: int = 0
    cut_short: bool = False
    warning: str | None = None
    sessions: int = 0


def decode_as_rules(ports: Sequence[int], tls_ports: Sequence[int] = ()) -> list[str]:
    """tshark's -d rules: `ports` carry SMTP; `tls_ports` carry TLS from the first byte, with
    SMTP inside (tshark needs both rules to hand decrypted bytes to SMTP)."""
    rules = [f"tcp.port=={port},smtp" for port in ports]
    for port in tls_ports:
        rules += [f"tcp.port=={port},tls", f"tls.port=={port},smtp"]
    return rules


@dataclass
class Narrowing:
    """The narrowing pass, running: its process, and the scratch folder its small file goes to."""

    proc: subprocess.Popen[bytes]
    scratch: tempfile.TemporaryDirectory[str]
    small: str
    ports: frozenset[int]

    def close(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        narrow.stop(self.proc)
        self.scratch.cleanup()


@dataclass
class First:
    """The first pass, started ahead: over the whole capture, and maybe a narrowing pass beside it."""

    whole: Spawned | None  # None: not started, since the capture's head shows little SMTP
    narrowing: Narrowing | None = None


def start(
    capture: str,
    tshark: Tshark,
    *,
    keylog: str | None,
    decode_as: Sequence[int],
    display_filter: str,
    smtp_ports: frozenset[int] | None = None,
    tls_ports: Sequence[int] = (),
) -> First:
    """Start the first pass now, so that tshark loads while Python gets the rest ready.

    With `smtp_ports` (a whole capture, not one stream), a large capture without keys whose
    first frames are mostly not SMTP gets a narrowing pass (`smtpdoc.narrow`) instead.
    Hand the result to `packets(..., first=...)` with the same arguments.
    """
    rules = decode_as_rules(decode_as, tls_ports)
    if keylog is not None:
        args = pdml_args.tree_args(capture, decode_as=rules, keylog=keylog, display_filter=display_filter)
        return First(whole=tshark_mod.spawn(tshark, args))
    flat = pdml_args.flat_args(capture, decode_as=rules, display_filter=display_filter)
    whole: Spawned | None = tshark_mod.spawn(tshark, flat)
    if smtp_ports is None or _size(capture) < narrow.MIN_BYTES:
        return First(whole=whole)
    if whole is not None and whole.ahead:
        return First(whole=whole)  # the head start read the file's head already: mostly SMTP
    ports = smtp_ports | frozenset(decode_as)
    # The file's first frames say whether narrowing can pay (read while tshark loads, ~20 ms):
    # mostly SMTP, the whole pass alone; little SMTP, the narrowing pass alone. Only when
    # Python cannot read the file's head do both run, and the narrowing pass's first frames decide.
    share = capture_head.smtp_share(capture, ports, narrow.WINDOW)
    if share is not None and share >= narrow.SPARSE:
        return First(whole=whole)
    if share is not None and whole is not None:
        whole.stop()  # still loading its dissectors: little is lost
        whole = None
    scratch = tempfile.TemporaryDirectory(prefix="smtpdoc-")
    small = os.path.join(scratch.name, "candidates.pcapng")
    try:
        proc = subprocess.Popen(
            [tshark.path, *narrow.narrowing_args(capture, small, sorted(ports))],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        scratch.cleanup()
        return First(whole=whole or tshark_mod.spawn(tshark, flat))  # it says what is wrong with tshark
    return First(whole=whole, narrowing=Narrowing(proc=proc, scratch=scratch, small=small, ports=ports))


def packets(
    capture: str,
    tshark: Tshark,
    *,
    keylog: str | None,
    decode_as: Sequence[int],
    display_filter: str,
    outcome: Outcome,
    progress: Callable[[int], None] | None = None,
    first: First | None = None,
    tls_ports: Sequence[int] = (),
) -> Iterator[Packet]:
    """One streamed pass over `capture`: packet events, with decrypted bytes attached.

    `first` is what `start` began (without it, a pass over the whole capture starts now).
    `tls_ports` are dissected as TLS carrying SMTP (implicit TLS on ports tshark does not know).
    """
    rules = decode_as_rules(decode_as, tls_ports)
    counting = outcome.frames == 0  # the first pass counts the frames
    read = partial(_passes, capture, tshark, keylog, rules, outcome, counting, progress)
    if first is None:
        first = start(
            capture, tshark, keylog=keylog, decode_as=decode_as, display_filter=display_filter, tls_ports=tls_ports
        )
    narrowing = first.narrowing
    if narrowing is None:
        yield from read(display_filter, spawned=first.whole)
        return
    try:
        kept = _narrow(narrowing, first.whole)
        if kept is None:
            narrowing.close()  # not worth it: stop it now, not after the whole pass
            yield from read(display_filter, spawned=first.whole)
            return
        if kept.off_port:
            yield from read(display_filter)  # SMTP found by content only: read it all
            return
        renumber = kept.renumber()
        before = outcome.frames
        ports = ", ".join(str(p) for p in sorted(narrowing.ports))
        port_filter = f"tcp.port in {{{ports}}} && ({display_filter})"
        yield from read(display_filter, renumber=renumber, small=narrowing.small, tree_filter=port_filter)
        if outcome.frames == before and counting:
            # No candidate at all: count the frames as the whole pass would have.
            outcome.frames = _count(tshark, capture, display_filter, rules)
    finally:
        narrowing.close()


def _size(capture: str) -> int:
    try:
        return os.path.getsize(capture)
    except OSError:
        return 0


def _narrow(narrowing: Narrowing, whole: Spawned | None) -> narrow.Kept | None:
    """Read the narrowing pass; None when the capture is not worth narrowing (`whole` goes on)."""
    kept = narrow.Kept(frames=[], streams=[])
    lines = narrowing.proc.stdout
    assert lines is not None
    if not narrow.read_kept(lines, narrowing.ports, kept, until=narrow.WINDOW) or not narrow.sparse(kept):
        return None
    if whole is not None:
        whole.stop()
    narrow.read_kept(lines, narrowing.ports, kept)
    if narrowing.proc.wait() != 0:
        return narrow.Kept(frames=[], streams=[], off_port=True)  # let the whole pass say what is wrong
    return kept


def _count(tshark: Tshark, capture: str, display_filter: str, rules: Sequence[str]) -> int:
    args = ["-n", "-r", capture, "-Y", display_filter, "-o", 'gui.column.format:"N","%m"']
    for rule in rules:
        args += ["-d", rule]
    return len(tshark_mod.run(tshark, args, capture).split())


def _passes(
    capture: str,
    tshark: Tshark,
    keylog: str | None,
    rules: Sequence[str],
    outcome: Outcome,
    counting: bool,
    progress: Callable[[int], None] | None,
    display_filter: str,
    *,
    spawned: tshark_mod.Spawned | None = None,
    renumber: narrow.Renumber | None = None,
    small: str | None = None,
    tree_filter: str | None = None,
) -> Iterator[Packet]:
    """The flat pass (over `small` when narrowed), then the tree pass from a decrypted frame on."""
    tree_from = ""
    if keylog is None:
        source = small or capture
        args = pdml_args.flat_args(source, decode_as=rules, display_filter=display_filter)
        try:
            for packet in _read(args, pdml_flat.read_packets, source, tshark, outcome, counting, progress, spawned):
                yield renumber.packet(packet) if renumber else packet
            return
        except pdml_flat.NeedsTree as switch:
            frame = renumber.original_frame(switch.frame) if renumber else switch.frame
            tree_from = f"frame.number >= {frame} && "
    decrypted = _Decrypted(capture, tshark, keylog, rules)
    focus = f"{tree_from}({tree_filter or display_filter})"
    args = pdml_args.tree_args(capture, decode_as=rules, keylog=keylog, display_filter=focus)
    started = spawned if keylog is not None else None  # `start` began the tree pass itself
    for packet in _read(args, pdml.read_packets, capture, tshark, outcome, counting, progress, started):
        yield decrypted.attach(packet) if packet.decrypted else packet


def _read(
    args: list[str],
    reader: Callable[[IO[bytes]], Iterator[Packet]],
    capture: str,
    tshark: Tshark,
    outcome: Outcome,
    counting: bool,
    progress: Callable[[int], None] | None,
    spawned: tshark_mod.Spawned | None,
) -> Iterator[Packet]:
    with tshark_mod.stream(tshark, args, spawned) as (stdout, result):
        try:
            for packet in reader(stdout):
                if counting:
                    outcome.frames += 1
                    if progress is not None:
                        progress(outcome.frames)
                yield packet
        except pdml.PdmlError as exc:
            outcome.warning = f"tshark's output ended early ({exc})"
    tshark_mod.check(result, capture)
    if counting and outcome.frames == 0:
        tshark_mod.check_network(tshark, capture)
    if result.cut_short:
        outcome.cut_short = True
        outcome.warning = f"'{capture}' is cut short: {result.message()}; explained what could be read"


class _Decrypted:
    """Decrypted bytes for the packets tshark could decrypt, fetched once, on first need.

    PDML does not carry them exactly, so the first decrypted packet triggers two small
    extra tshark passes (which streams were decrypted; their records via `-z follow`).
    Each packet then takes its sender's next records until they add up to the bytes
    tshark's SMTP dissector read in it (counting records would be wrong: tshark's follow
    leaves out empty records, such as TLS 1.0's empty-fragment defence).
    """

    def __init__(self, capture: str, tshark: Tshark, keylog: str | None, rules: Sequence[str]) -> None:
        self.capture = capture
        self.tshark = tshark
        self.decode_as = rules
        self.keylog = keylog
        self.nodes: dict[int, tuple[str, int] | None] | None = None  # stream → node 0's endpoint
        self.queues: dict[tuple[int, bool], deque[bytes]] = {}

    def _load(self) -> dict[int, tuple[str, int] | None]:
        listing = tshark_mod.run(
            self.tshark,
            follow.decrypted_streams_args(self.capture, decode_as=self.decode_as, keylog=self.keylog),
            self.capture,
        )
        streams = sorted({int(line) for line in listing.split() if line.isdigit()})
        if not streams:
            return {}
        text = tshark_mod.run(
            self.tshark,
            follow.follow_args(self.capture, streams, decode_as=self.decode_as, keylog=self.keylog),
            self.capture,
        )
        nodes: dict[int, tuple[str, int] | None] = {}
        for stream, data in follow.parse_follow(text).items():
            nodes[stream] = data.node0
            for by_node0, record in data.records:
                self.queues.setdefault((stream, by_node0), deque()).append(record)
        return nodes

    def attach(self, packet: Packet) -> Packet:
        if self.nodes is None:
            self.nodes = self._load()
        node0 = self.nodes.get(packet.stream)
        if node0 is None:
            return packet
        by_node0 = (packet.src, packet.sport) == node0
        queue = self.queues.get((packet.stream, by_node0))
        chunks: list[bytes] = []
        taken = 0
        while queue and taken < packet.decrypted_size:
            chunks.append(queue.popleft())
            taken += len(chunks[-1])
        return replace(packet, plaintext=b"".join(chunks)) if chunks else packet

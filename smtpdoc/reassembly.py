"""One direction of a TCP conversation as a byte stream that remembers its frames.

Segments are placed by relative sequence number: retransmitted bytes are
dropped, out-of-order segments wait for the hole to fill, and a hole that never
fills becomes a recorded gap. Every byte keeps the frame it arrived in, so a
command or reply rebuilt from the stream knows its frame numbers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class Chunk:
    """Bytes taken from the stream, with where they came from."""

    data: bytes
    frames: list[int]
    time: float  # capture time of the first byte's frame


@dataclass(slots=True)
class _Span:
    end: int  # absolute stream offset one past the span's last byte
    frame: int
    time: float


@dataclass(slots=True)
class Gap:
    frame: int  # the first frame after the hole
    size: int  # bytes missing
    offset: int = 0  # absolute stream offset where the missing bytes would start
    cut: bool = False  # a snap length cut the frame: its captured bytes end here
    read: bool = False  # a reader ended a line or a reply at this cut


@dataclass
class ByteStream:
    max_pending: int  # segments that may wait behind a hole before we give up on it
    next_seq: int | None = None
    buffer: bytearray = field(default_factory=bytearray)
    consumed: int = 0  # absolute offset of buffer[0]
    total: int = 0  # bytes accepted so far
    _spans: deque[_Span] = field(default_factory=deque)
    _pending: dict[int, tuple[bytes, int, float, int]] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)

    def start_at(self, seq: int) -> None:
        """The next byte expected has this sequence number (after a SYN: 1)."""
        if self.next_seq is None:
            self.next_seq = seq

    def add(self, seq: int, payload: bytes, frame: int, time: float, cut: int = 0) -> bool:
        """Accept a segment (`cut`: how many of its bytes the capture left out); True when new bytes became readable."""
        if not payload:
            return False
        if self.next_seq is None:
            self.next_seq = seq
        if seq > self.next_seq:
            self._pending[seq] = (payload, frame, time, cut)
            if len(self._pending) > self.max_pending:
                return self.skip_hole()
            return False
        grew = self._append(seq, payload, frame, time, cut)
        if self._pending:
            return self._drain() or grew
        return grew

    def pass_through(self, seq: int, size: int) -> bool:
        """A segment read elsewhere (TLS records: tshark reads them), taken and discarded at once
        when it simply comes next: nothing buffered or waiting, no byte seen before. False (and
        nothing done) otherwise: `add` and `discard` then decide."""
        if seq != self.next_seq or self.buffer or self._pending or not size:
            return False
        self.next_seq = seq + size
        self.total += size
        self.consumed += size
        if self._spans:
            self._spans.clear()  # of bytes already read
        return True

    def ends_at(self, seq: int, frame: int) -> None:
        """A FIN with no payload at `seq`: bytes up to it were sent. Past the bytes seen, with none
        waiting, the last bytes before the FIN are missing from the capture: a gap that no later
        segment would show (their frame is the FIN's)."""
        if self.next_seq is None or self._pending or seq <= self.next_seq:
            return
        self.gaps.append(Gap(frame=frame, size=seq - self.next_seq, offset=self.consumed + len(self.buffer)))
        self.next_seq = seq

    def skip_hole(self) -> bool:
        """Give up waiting: jump to the lowest waiting segment, recording the gap."""
        if not self._pending or self.next_seq is None:
            return False
        seq = min(self._pending)
        payload, frame, time, cut = self._pending.pop(seq)
        self.gaps.append(Gap(frame=frame, size=seq - self.next_seq, offset=self.consumed + len(self.buffer)))
        self.next_seq = seq
        self._append(seq, payload, frame, time, cut)
        self._drain()
        return True

    def _append(self, seq: int, payload: bytes, frame: int, time: float, cut: int = 0) -> bool:
        assert self.next_seq is not None
        overlap = self.next_seq - seq
        if overlap >= len(payload) + cut:
            return False  # a pure retransmission
        if overlap >= len(payload):
            self.next_seq = seq + len(payload) + cut  # only bytes the capture left out were new
            return False
        fresh = payload[overlap:] if overlap > 0 else payload
        self.buffer += fresh
        self.total += len(fresh)
        self.next_seq += len(fresh)
        self._spans.append(_Span(end=self.consumed + len(self.buffer), frame=frame, time=time))
        if cut:
            # The rest of the segment is not in the capture: a gap right here, never glued over.
            self.gaps.append(Gap(frame=frame, size=cut, offset=self.consumed + len(self.buffer), cut=True))
            self.next_seq += cut
        return True

    def _drain(self) -> bool:
        grew = False
        while self._pending and self.next_seq is not None:
            ready = [s for s in self._pending if s <= self.next_seq]
            if not ready:
                break
            for seq in sorted(ready):
                payload, frame, time, cut = self._pending.pop(seq)
                grew = self._append(seq, payload, frame, time, cut) or grew
        return grew

    def acked(self, ack: int) -> bool:
        """The peer acknowledged up to `ack`: a hole below it will never fill in this capture."""
        if self._pending and self.next_seq is not None and ack > self.next_seq:
            return self.skip_hole()
        return False

    def next_gap(self) -> Gap | None:
        """The first gap at or after the read position, if any."""
        for gap in self.gaps:
            if gap.offset >= self.consumed and not gap.read:
                return gap
        return None

    def next_cut(self) -> int | None:
        """Where (from the read position) the captured bytes of a cut frame end, if in the buffer."""
        gap = self.next_gap()
        if gap is None or not gap.cut or gap.offset - self.consumed > len(self.buffer):
            return None
        return gap.offset - self.consumed

    def cut_since_read(self) -> bool:
        """Did a snap length cut a frame of the bytes not yet read (or at the read position)?"""
        return any(gap.cut and gap.offset >= self.consumed for gap in self.gaps)

    def cut_read(self) -> None:
        """A reader ended its line or reply at the next cut."""
        gap = self.next_gap()
        if gap is not None:
            gap.read = True

    def find(self, needle: bytes, start: int = 0) -> int:
        return self.buffer.find(needle, start)

    def __len__(self) -> int:
        return len(self.buffer)

    def take(self, n: int) -> Chunk:
        """Consume the first n buffered bytes."""
        buffer = self.buffer
        n = min(n, len(buffer))
        data = bytes(buffer[:n])
        del buffer[:n]
        start, end = self.consumed, self.consumed + n
        self.consumed = end
        spans = self._spans
        if spans and start < spans[0].end:
            first = spans[0]
            if end <= first.end:  # the common case: one frame holds all the bytes taken
                if end == first.end:
                    spans.popleft()
                return Chunk(data=data, frames=[first.frame], time=first.time)
        frames: list[int] = []
        time = 0.0
        for span in spans:
            if span.end <= start:
                continue
            if not frames:
                time = span.time
            if not frames or frames[-1] != span.frame:
                frames.append(span.frame)
            if span.end >= end:
                break
        while spans and spans[0].end <= end:
            spans.popleft()
        return Chunk(data=data, frames=frames, time=time)

    def discard(self) -> int:
        """Consume every buffered byte unread (TLS records are read by tshark): how many there were."""
        n = len(self.buffer)
        self.buffer.clear()
        self.consumed += n
        self._spans.clear()
        return n

    def same_frame(self) -> int:
        """How many unread bytes, from the read position on, came in the frame of the first."""
        for span in self._spans:
            if span.end > self.consumed:
                return min(span.end - self.consumed, len(self.buffer))
        return 0

    def peek_frame(self) -> int | None:
        """The frame holding the first unread byte."""
        for span in self._spans:
            if span.end > self.consumed:
                return span.frame
        return None

"""Readers: one direction's reassembled bytes → SMTP events (smtpdoc.events).

Which reader runs depends on the dialogue's state (as in h11's READERS): lines while
commands are read, message text up to the final dot after DATA, a counted chunk after
BDAT. A reader only cuts bytes; it never decides what a line means.
"""

from __future__ import annotations

from smtpdoc import smtp_text
from smtpdoc.events import BdatChunk, CommandLine, Gap, MessageChunk, MessageEnd, NotReplyLine, Reply, ReplyLine
from smtpdoc.reassembly import ByteStream

# An unterminated message line longer than this many max-length lines is passed on
# rather than held forever.
_HOLD_LINES = 64


def _merge(frames: list[int], more: tuple[int, ...]) -> None:
    for frame in more:
        if frame not in frames:
            frames.append(frame)


class ServerReader:
    """Server bytes → reply lines, each complete reply after its last line."""

    def __init__(self, stream: ByteStream) -> None:
        self.stream = stream
        self._lines: list[ReplyLine] = []
        self._complete = False
        self._ahead: list[ReplyLine] = []  # lines of a reply cut at once, last first
        self._one_frame = False  # the reply being read was cut at once: its lines share their frames

    def next_event(self) -> ReplyLine | NotReplyLine | Reply | None:
        if self._complete:
            self._complete = False
            lines, self._lines = self._lines, []
            if len(lines) == 1 or self._one_frame:
                first, last = lines[0], lines[-1]
                self._one_frame = False
                texts = (first.text,) if len(lines) == 1 else tuple(line.text for line in lines)
                return Reply(last.code, texts, first.frames, first.time)
            frames: list[int] = []
            for line in lines:
                _merge(frames, line.frames)
            return Reply(
                code=lines[-1].code, lines=tuple(line.text for line in lines), frames=tuple(frames), time=lines[0].time
            )
        if self._ahead:
            line = self._ahead.pop()
            self._lines.append(line)
            self._complete = line.last
            return line
        stream = self.stream
        end = stream.buffer.find(b"\n")
        if stream.gaps:  # only then can a snap length cut lie ahead
            cut = stream.next_cut()
            if cut is not None and (end < 0 or end >= cut):
                return self._cut(cut)
        elif not self._lines and 0 <= end < len(stream.buffer) - 1:
            whole = self._whole_reply(end)
            if whole is not None:
                return whole
        if end < 0:
            return None
        chunk = stream.take(end + 1)
        data = chunk.data
        parsed = smtp_text.parse_reply_line(data.rstrip(b"\r\n"))
        if parsed is None:
            return NotReplyLine(data, tuple(chunk.frames), chunk.time)
        line = ReplyLine(parsed.code, parsed.last, parsed.text, data, tuple(chunk.frames), chunk.time)
        self._lines.append(line)
        self._complete = parsed.last
        return line

    def _whole_reply(self, end: int) -> ReplyLine | None:
        """A reply of several lines that came in one frame (an EHLO reply, mostly): taken from
        the stream at once, its lines handed out one by one as if read one by one. None, with
        nothing taken, when a line is no reply line or the reply goes on in another frame."""
        stream = self.stream
        buffer = stream.buffer
        limit = stream.same_frame()
        parsed: list[tuple[smtp_text.ReplyLine, bytes]] = []
        start = 0
        while True:
            if end < 0 or end >= limit:
                return None
            data = bytes(buffer[start : end + 1])
            line = smtp_text.parse_reply_line(data.rstrip(b"\r\n"))
            if line is None:
                return None
            parsed.append((line, data))
            if line.last:
                break
            start = end + 1
            end = buffer.find(b"\n", start)
        chunk = stream.take(end + 1)
        frames, time = tuple(chunk.frames), chunk.time
        ahead = [ReplyLine(p.code, p.last, p.text, data, frames, time) for p, data in reversed(parsed)]
        first = ahead.pop()
        self._ahead = ahead
        self._one_frame = True
        self._lines.append(first)
        self._complete = first.last
        return first

    def _cut(self, at: int) -> ReplyLine | NotReplyLine | Reply | None:
        """A snap length cut this line: what was captured ends the reply (its code is still proved)."""
        self.stream.cut_read()
        parsed = smtp_text.parse_reply_line(bytes(self.stream.buffer[:at]).rstrip(b"\r\n")) if at else None
        if parsed is None:
            self.stream.take(at)  # no code left to read: the gap is reported
            self._complete = bool(self._lines)
            return self.next_event()
        chunk = self.stream.take(at)
        line = ReplyLine(parsed.code, True, parsed.text + _CUT_MARK, chunk.data, tuple(chunk.frames), chunk.time)
        self._lines.append(line)
        self._complete = True
        return line


# Shown where a snap length cut a line: the captured text ends, more was sent.
_CUT_MARK = "…"


class ClientReader:
    """Client bytes → command lines, message text, BDAT chunks, and the gaps among them."""

    def __init__(self, stream: ByteStream, max_text_line: int) -> None:
        self.stream = stream
        self._hold = max_text_line * _HOLD_LINES
        self._end: MessageEnd | None = None

    # -- lines ---------------------------------------------------------------------------
    def torn_line(self) -> Gap | None:
        """Bytes went missing inside the next line: drop it up to its end (it is no command)."""
        s = self.stream
        gap = s.next_gap() if s.gaps else None
        if gap is not None and gap.size > 0 and 0 < gap.offset - s.consumed <= len(s):
            end = s.find(b"\n", gap.offset - s.consumed)
            if end >= 0:
                chunk = s.take(end + 1)
                gap.size = 0
                return Gap(size=len(chunk.data), frames=tuple(chunk.frames))
        return None

    def next_line(self) -> CommandLine | None:
        stream = self.stream
        end = stream.buffer.find(b"\n")
        cut = stream.next_cut() if stream.gaps else None  # no gap: no snap length cut either
        if cut is not None and (end < 0 or end >= cut):
            stream.cut_read()
            if cut:
                chunk = stream.take(cut)
                return CommandLine(chunk.data, tuple(chunk.frames), chunk.time, cut=True)
        if end < 0:
            return None
        chunk = stream.take(end + 1)
        return CommandLine(chunk.data, tuple(chunk.frames), chunk.time)

    def more_in_frame(self, frames: tuple[int, ...]) -> bool:
        """Do unread bytes follow in one of these frames (a command pipelined behind)?"""
        return len(self.stream) > 0 and self.stream.peek_frame() in frames

    # -- DATA ----------------------------------------------------------------------------
    def next_message(self, at_start: bool) -> MessageChunk | None:
        """Message text in whole lines; after the last, `message_end` holds the final dot."""
        s = self.stream
        if not len(s):
            return None
        if at_start and s.buffer.startswith(b".\r\n"):
            chunk = s.take(3)
            self._end = MessageEnd(tuple(chunk.frames), chunk.time)
            return MessageChunk(b"", self._end.frames, chunk.time)
        end = s.find(b"\r\n.\r\n")
        cut = s.next_cut()
        if cut and (end < 0 or end + 5 > cut):
            # A snap length cut a frame: its captured text ends here, never glued to what follows.
            gap = s.next_gap()
            s.cut_read()
            chunk = s.take(cut)
            return MessageChunk(chunk.data, tuple(chunk.frames), chunk.time, lost=gap.size if gap else 0)
        if end < 0:
            # Take whole lines only: the terminator, or a CRLF, may be split across segments.
            cut = s.buffer.rfind(b"\n", 0, len(s) - 4) + 1
            if cut <= 0:
                if len(s) <= self._hold:
                    return None
                cut = len(s) - 4  # an absurdly long line: do not hold it forever
            chunk = s.take(cut)
            return MessageChunk(chunk.data, tuple(chunk.frames), chunk.time)
        chunk = s.take(end + 5)
        self._end = MessageEnd(tuple(chunk.frames), chunk.time)
        return MessageChunk(chunk.data[: end + 2], self._end.frames, chunk.time)

    def rest(self) -> MessageChunk | None:
        """What is left of the message text, however it ends (the server has answered it)."""
        s = self.stream
        if not len(s):
            return None
        chunk = s.take(len(s))
        return MessageChunk(chunk.data, tuple(chunk.frames), chunk.time)

    def ends_with(self, tail: bytes, kept: bytes) -> bool:
        """Do the client's bytes so far (the kept text, then what is unread) end with `tail`?"""
        return (kept[-len(tail) :] + bytes(self.stream.buffer)).endswith(tail)

    def message_end(self) -> MessageEnd | None:
        """The line holding a single dot, once the text before it was read."""
        end, self._end = self._end, None
        return end

    # -- BDAT ----------------------------------------------------------------------------
    def bdat_gap(self, left: int) -> Gap | None:
        """The chunk's next bytes are missing from the capture: up to `left` of them, counted as sent."""
        s = self.stream
        gap = s.next_gap()
        if gap is None or gap.offset != s.consumed:
            return None
        lost = min(gap.size, left)
        gap.offset += lost
        gap.size -= lost
        return Gap(size=lost)

    def bdat_bytes(self, left: int) -> BdatChunk | None:
        """Up to `left` bytes of the chunk, as far as they have arrived (and up to the next gap)."""
        s = self.stream
        if left and not len(s):
            return None
        gap = s.next_gap()
        want = left
        if gap is not None and gap.size > 0:
            want = min(want, gap.offset - s.consumed)
        chunk = s.take(want)
        return BdatChunk(chunk.data, tuple(chunk.frames), chunk.time)

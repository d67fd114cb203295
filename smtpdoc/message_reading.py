"""The message in DATA or BDAT: bytes up to the final dot, or chunks of announced size.

A part of `Dialogue` (smtpdoc.dialogue), kept apart because it reads the client's bytes
in a different way from commands: as message text, not as lines to interpret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smtpdoc import smtp_text
from smtpdoc.dialogue_types import Mode, Pending, Side, merge
from smtpdoc.message import summarise, unstuff
from smtpdoc.model import Step, Transaction
from smtpdoc.reassembly import ByteStream, Chunk

if TYPE_CHECKING:
    from smtpdoc.session import SessionMachine

# Keep at most this much of a message to summarise its headers and parts.
_MESSAGE_KEEP = 4 * 1024 * 1024


class MessageReading:
    """DATA and BDAT reading; the state it uses is set up by Dialogue.__init__."""

    m: SessionMachine
    client: ByteStream
    mode: Mode
    transaction: Transaction | None
    data_step: Step | None
    message: bytearray
    message_size: int
    bdat_left: int
    bdat_last: bool
    bdat_step: Step | None

    def _wait(self, pending: Pending) -> None:
        raise NotImplementedError

    def _read_data(self) -> bool:
        """DATA mode: the message runs up to a line holding a single dot."""
        if not len(self.client):
            return False
        end = self.client.find(b"\r\n.\r\n")
        at_start = self.message_size == 0 and self.client.buffer.startswith(b".\r\n")
        if at_start:
            chunk = self.client.take(3)
            self._message_bytes(chunk, b"")
            self._message_end(chunk)
            return True
        if end < 0:
            # Take whole lines only: the terminator, or a CRLF, may be split across segments.
            cut = self.client.buffer.rfind(b"\n", 0, len(self.client) - 4) + 1
            if cut <= 0:
                if len(self.client) <= smtp_text.MAX_TEXT_LINE * 64:
                    return False
                cut = len(self.client) - 4  # an absurdly long line: do not hold it forever
            chunk = self.client.take(cut)
            self._message_bytes(chunk, chunk.data)
            return True
        chunk = self.client.take(end + 5)
        self._message_bytes(chunk, chunk.data[: end + 2])
        self._message_end(chunk)
        return True

    def _message_bytes(self, chunk: Chunk, data: bytes) -> None:
        if self.data_step is None:
            self.data_step = self.m.step("message", chunk.frames, self.m.rel(chunk.time), Side.CLIENT)
        else:
            self.m.add_frames(self.data_step, chunk.frames)
        self.message_size += len(data)
        self.m.check_text(chunk, data)
        room = _MESSAGE_KEEP - len(self.message)
        if room > 0:
            self.message += data[:room]

    def _message_end(self, chunk: Chunk) -> None:
        step = self.data_step
        assert step is not None
        self._summarise(step, truncated=len(self.message) < self.message_size)
        self.mode = Mode.COMMAND
        self._wait(Pending(".", step))
        self.transaction = None

    def _summarise(self, step: Step, truncated: bool) -> None:
        raw = unstuff(bytes(self.message)) if self.mode is Mode.DATA else bytes(self.message)
        message = summarise(raw, self.message_size, truncated or self.m.gap_in(step.frames))
        if step.name == "bdat":
            step.facts.update(message_size=self.message_size, subject=message.headers.get("subject", ""))
        else:
            step.facts.update(size=self.message_size, subject=message.headers.get("subject", ""))
        if self.transaction is not None:
            self.transaction.message = message
            merge(self.transaction.frames, step.frames)
        self.message.clear()
        self.message_size = 0
        self.data_step = None

    def _read_bdat(self) -> bool:
        gap = self.client.next_gap()
        if gap is not None and gap.offset == self.client.consumed:
            # The chunk's bytes went missing from the capture: count them as sent.
            lost = min(gap.size, self.bdat_left)
            self.bdat_left -= lost
            self.message_size += lost
            gap.offset += lost
            gap.size -= lost
            if self.bdat_left == 0:
                self._bdat_done(truncated=True)
                return True
        if self.bdat_left and not len(self.client):
            return False
        want = self.bdat_left
        if gap is not None and gap.size > 0:
            want = min(want, gap.offset - self.client.consumed)
        chunk = self.client.take(want)
        self.bdat_left -= len(chunk.data)
        step = self.bdat_step
        if step is not None and chunk.frames:
            self.m.add_frames(step, chunk.frames)
        self.message += chunk.data[: max(0, _MESSAGE_KEEP - len(self.message))]
        self.message_size += len(chunk.data)
        if self.bdat_left == 0:
            self._bdat_done(truncated=False)
        return True

    def _bdat_done(self, truncated: bool) -> None:
        if self.bdat_last and self.bdat_step is not None:
            self._summarise(self.bdat_step, truncated=truncated)
            self.transaction = None  # BDAT LAST ends the transaction
        self.mode = Mode.COMMAND

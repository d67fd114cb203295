"""The message being read after DATA or BDAT: kept bytes, its size, the chunk still due."""

from __future__ import annotations

from dataclasses import dataclass, field

from smtpdoc.message import summarise, unstuff
from smtpdoc.model import Message, Step


@dataclass
class MessageText:
    keep: int  # keep at most this many bytes to summarise headers and parts
    kept: bytearray = field(default_factory=bytearray)
    size: int = 0  # bytes sent, kept or not
    step: Step | None = None  # the DATA message's step
    bdat_left: int = 0
    bdat_last: bool = False
    bdat_step: Step | None = None

    def add(self, data: bytes) -> None:
        room = self.keep - len(self.kept)
        if room > 0:
            self.kept += data[:room]
        self.size += len(data)

    def bdat(self, size: int, last: bool, step: Step) -> None:
        """A BDAT chunk of `size` bytes is announced."""
        self.bdat_left, self.bdat_last, self.bdat_step = size, last, step

    def summary(self, dot_stuffed: bool, truncated: bool) -> Message:
        """The message as read so far; the buffer starts afresh."""
        raw = unstuff(bytes(self.kept)) if dot_stuffed else bytes(self.kept)
        message = summarise(raw, self.size, truncated)
        self.kept.clear()
        self.size = 0
        self.step = None
        return message

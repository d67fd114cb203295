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
    lost: int = 0  # bytes a snap length cut out of the message's frames
    whole_until: int | None = None  # the kept bytes before the first cut: after it, lines are unknown
    after_cut: bool = False  # the last text added ended where a snap length cut its frame

    def add(self, data: bytes, lost: int = 0) -> None:
        room = self.keep - len(self.kept)
        if room > 0:
            self.kept += data[:room]
        self.size += len(data)
        self.after_cut = lost > 0
        if lost:
            self.lost += lost
            if self.whole_until is None:
                self.whole_until = len(self.kept)

    def bdat(self, size: int, last: bool, step: Step) -> None:
        """A BDAT chunk of `size` bytes is announced."""
        self.bdat_left, self.bdat_last, self.bdat_step = size, last, step

    def summary(self, dot_stuffed: bool, truncated: bool) -> Message:
        """The message as read so far; the buffer starts afresh."""
        kept = bytes(self.kept[: self.whole_until])  # a cut frame: only what reads as sent
        raw = unstuff(kept) if dot_stuffed else kept
        cut = self.whole_until is not None
        message = summarise(raw, self.size + self.lost, truncated or cut, cut=cut)
        if cut:
            message.captured = self.size
        self.kept.clear()
        self.size = self.lost = 0
        self.whole_until = None
        self.after_cut = False
        self.step = None
        return message

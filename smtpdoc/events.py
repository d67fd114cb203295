"""SMTP events: what the readers cut from each direction's bytes, and what the machine is fed.

Small frozen records, each with the frames it came from and the capture time of its first
byte. A reader knows bytes (where a line ends, how long a chunk is), never what they mean;
the meaning is the transition table's (smtpdoc.catalog.rules) and the machine's. TLS records
need no reader: tshark dissects them, and `smtpdoc.packets.TlsRecord` is their event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

# Which end of the connection sent something. Plain strings (as the model spells them), so the
# hot path neither looks up an Enum's value nor hashes one.
Side = Literal["client", "server"]
CLIENT: Final = "client"
SERVER: Final = "server"


@dataclass(slots=True)
class CommandLine:
    """A client line, with its line ending (a command, or a SASL response in AUTH)."""

    data: bytes
    frames: tuple[int, ...]
    time: float
    cut: bool = False  # a snap length cut the frame: the line's captured bytes end here


@dataclass(slots=True)
class ReplyLine:
    """One server line that reads as a reply line: three digits, then '-' (more follow) or not."""

    code: int
    last: bool
    text: str
    data: bytes  # as sent, with its line ending
    frames: tuple[int, ...]
    time: float


@dataclass(slots=True)
class NotReplyLine:
    """A server line that is no SMTP reply line."""

    data: bytes
    frames: tuple[int, ...]
    time: float


@dataclass(slots=True)
class Reply:
    """A complete reply: its lines up to the one without a dash."""

    code: int  # the last line's
    lines: tuple[str, ...]  # text after the code, one per line
    frames: tuple[int, ...]
    time: float  # of the first line


@dataclass(slots=True)
class MessageChunk:
    """Message text after DATA (dot-stuffed as sent, without the final dot line)."""

    data: bytes
    frames: tuple[int, ...]
    time: float
    lost: int = 0  # a snap length cut the frame right after this text: bytes sent, not captured


@dataclass(slots=True)
class MessageEnd:
    """The line holding a single dot that ends the message."""

    frames: tuple[int, ...]
    time: float


@dataclass(slots=True)
class BdatChunk:
    """Bytes of an announced BDAT chunk (maybe only part of it, as far as it has arrived)."""

    data: bytes
    frames: tuple[int, ...]
    time: float


@dataclass(slots=True)
class Gap:
    """Bytes missing from the capture: `size` of them, before `frame` (0: unknown)."""

    size: int
    frames: tuple[int, ...] = ()


@dataclass(slots=True)
class TlsStart:
    """The connection carries TLS before any SMTP was read, or with no 220 to STARTTLS read;
    `midway`: what began TLS is not in the capture (its first bytes are records past the
    handshake, or the 220 to STARTTLS is missing), so it is not known to be implicit TLS."""

    frame: int
    midway: bool = False


@dataclass(slots=True)
class Closed:
    """A FIN or RST (or both) from `side`."""

    side: Side
    fin: bool
    reset: bool
    frame: int
    time: float


ServerEvent = ReplyLine | NotReplyLine | Reply
ClientEvent = CommandLine | MessageChunk | MessageEnd | BdatChunk | Gap

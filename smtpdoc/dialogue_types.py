"""The states and small records the SMTP dialogue shares with its parts."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from smtpdoc.model import Recipient, Step, Transaction

REDACTED = "[redacted]"


class Mode(enum.Enum):
    COMMAND = "command"  # client lines are commands
    AUTH = "auth"  # client lines are SASL responses until the final reply
    DATA = "data"  # client bytes are the message, up to CRLF.CRLF
    BDAT = "bdat"  # client bytes are a chunk of announced size
    TLS = "tls"  # both directions carry TLS records


class Side(enum.Enum):
    CLIENT = "client"
    SERVER = "server"


@dataclass
class Pending:
    """A command waiting for its reply."""

    verb: str
    step: Step
    reply_step: str | None = None  # a separate step for the reply (EHLO, STARTTLS)
    recipient: Recipient | None = None
    transaction: Transaction | None = None  # the transaction the command belongs to


def merge(target: list[int], frames: list[int]) -> None:
    """Add frames to a list, each once, keeping their order."""
    for frame in frames:
        if frame not in target:
            target.append(frame)

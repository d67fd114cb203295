"""The dialogue's private bookkeeping (not the model): what waits, what is open, what was said.

Zeek's SMTP analyser keeps the same split: `Info` is what is reported (here the model, written
by smtpdoc.builder alone), `State` is the machine's scratch. The actions of the transition
table (smtpdoc.commands, smtpdoc.replies, smtpdoc.message_reading) read and update this state
and ask the builder to record; only the machine (smtpdoc.dialogue) changes `mode`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from smtpdoc import smtp_text
from smtpdoc.builder import SessionBuilder
from smtpdoc.catalog.rules import Rules, State
from smtpdoc.events import CommandLine, Side
from smtpdoc.message_text import MessageText
from smtpdoc.model import Extension, Recipient, Step, Transaction
from smtpdoc.model import Reply as ModelReply
from smtpdoc.names import StepName
from smtpdoc.readers import ClientReader
from smtpdoc.reassembly import ByteStream
from smtpdoc.tunnel import TunnelReader

REDACTED = "[redacted]"


@dataclass
class Link:
    """What the connection knows that its dialogues ask about; the session keeps it current."""

    reveal_secrets: bool
    outer_client: ByteStream  # its gaps mark a message as truncated, also inside TLS
    tls_active: bool = False
    server_payloads: int = 0
    not_smtp_seen: bool = False  # said once per connection
    starttls_requested: bool = False


@dataclass
class Pending:
    """A command waiting for its reply."""

    verb: str
    step: Step
    reply_step: StepName | None = None  # a separate step for the reply (EHLO, STARTTLS)
    recipient: Recipient | None = None
    transaction: Transaction | None = None  # the transaction the command belongs to


@dataclass(slots=True)
class Command:
    """A command line and what it says."""

    line: CommandLine
    parsed: smtp_text.Command
    time: float  # since the session started


@dataclass
class Answer:
    """A reply to a waiting command; `target` is the step the reply is (its own, or the command's)."""

    pending: Pending
    reply: ModelReply
    target: Step


@dataclass
class DialogueState:
    """One dialogue's scratch; `mode` is changed by smtpdoc.dialogue alone, as the table says."""

    builder: SessionBuilder
    rules: Rules
    link: Link
    inside_tls: bool
    client_reader: ClientReader
    message: MessageText
    mode: State = State.COMMAND
    pending: deque[Pending] = field(default_factory=deque)
    greeted: bool = False
    replies: int = 0  # SMTP replies the server sent: only its first can be the greeting
    extensions: list[Extension] | None = None
    transaction: Transaction | None = None
    auth_step: Step | None = None
    commands: int = 0
    helo: str | None = None
    upgraded: bool = False  # a 220 answered STARTTLS: the connection turns to TLS
    tunnel: TunnelReader | None = None  # a proxy tunnel's set-up is being read
    tunnel_step: Step | None = None
    tunnel_checked: bool = False  # the client's first bytes were looked at for a tunnel set-up

    def step(
        self,
        name: StepName,
        frames: Iterable[int],
        time: float,
        side: Side,
        lines: list[str] | None = None,
        **facts: Any,
    ) -> Step:
        return self.builder.step(name, frames, time, side, lines=lines, facts=facts, inside_tls=self.inside_tls)

    def wait(self, pending: Pending) -> None:
        """A command that belongs to the open transaction waits for its reply."""
        pending.transaction = self.transaction
        self.pending.append(pending)

    def not_smtp(self, data: bytes, frames: tuple[int, ...], side: Side) -> None:
        if not self.link.not_smtp_seen:
            self.link.not_smtp_seen = True
            sample = smtp_text.text(data[:40]).strip()
            self.builder.finding("not_smtp", frames, self.builder.detail("not_smtp", side=side, sample=sample))

    def message_truncated(self, step: Step) -> bool:
        """Did bytes of the connection go missing inside this step?"""
        gap_frames = {g.frame for g in self.link.outer_client.gaps}
        return any(frame in gap_frames for frame in step.frames)


def reply_lines(reply: ModelReply) -> list[str]:
    """The reply as a transcript: 'S: 250-first', ..., 'S: 250 last'."""
    last = len(reply.lines) - 1
    return [f"S: {reply.code}{'-' if i < last else ' '}{t}".rstrip() for i, t in enumerate(reply.lines)]

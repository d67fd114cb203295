"""The builder: the one writer of the model the renderers read (smtpdoc.model).

The machine decides; the builder records. Every step, finding, note, transaction and TLS
fact of a `Session` is written here and nowhere else, so the shape of the model (what is
merged, what is kept once, in which order) is decided in one place. Sentences come from
the catalog (dialogue.toml `[notes]`, `[details]`), never from the machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from smtpdoc.catalog.rules import Rules
from smtpdoc.events import Side
from smtpdoc.model import (
    Endpoint,
    Extension,
    Finding,
    Message,
    Recipient,
    Reply,
    Session,
    Step,
    TlsSummary,
    Transaction,
)
from smtpdoc.names import DetailName, FindingName, NoteName, StepName

# Findings kept once per (name, detail) rather than once per name: each error reply counts.
_PER_DETAIL: frozenset[FindingName] = frozenset({"error_reply"})


def merge(target: list[int], frames: Iterable[int]) -> None:
    """Add frames to a list, each once, keeping their order."""
    for frame in frames:
        if frame not in target:
            target.append(frame)


def number(session: Session, index: int) -> None:
    """The session's 1-based position among the capture's SMTP sessions (given as they are released)."""
    session.index = index


class SessionBuilder:
    def __init__(self, stream: int, rules: Rules) -> None:
        self.rules = rules
        self.session = Session(
            index=0,
            stream=stream,
            client=Endpoint("", 0),
            server=Endpoint("", 0),
            start=0.0,
            first_frame=0,
            last_frame=0,
        )
        self._findings: dict[tuple[str, str], Finding] = {}

    # -- the session ---------------------------------------------------------------------
    def start(self, time: float, frame: int, client: Endpoint, server: Endpoint) -> None:
        s = self.session
        s.start, s.first_frame, s.client, s.server = time, frame, client, server

    def last_frame(self, frame: int) -> None:
        self.session.last_frame = frame

    def rel(self, time: float) -> float:
        """Seconds since the session started."""
        since = time - self.session.start
        return round(since if since > 0.0 else 0.0, 6)  # max(0.0, since) without the call

    def names(self, server: str | None = None, client: str | None = None) -> None:
        """The first name each side gave itself is the session's."""
        if server is not None and self.session.server_name is None:
            self.session.server_name = server
        if client is not None and self.session.client_name is None:
            self.session.client_name = client

    def server_name(self, name: str | None) -> None:
        self.session.server_name = name

    # -- steps ---------------------------------------------------------------------------
    def step(
        self,
        name: StepName,
        frames: Iterable[int],
        time: float,
        side: str,
        lines: list[str] | None = None,
        facts: dict[str, Any] | None = None,
        inside_tls: bool = False,
    ) -> Step:
        # Positional: name, frames, time, direction, lines, facts, reply, inside_tls.
        step = Step(name, list(frames), time, side, lines or [], dict(facts) if facts else {}, None, inside_tls)
        self.session.steps.append(step)
        frame_steps = self.session.frame_steps
        for frame in step.frames:
            frame_steps.setdefault(frame, name)
        return step

    def add_frames(self, step: Step, frames: Iterable[int]) -> None:
        # Only the frames new to the step are assigned: the step's earlier ones were when they
        # came (assigning all again made a long encrypted phase quadratic).
        target, frame_steps, name = step.frames, self.session.frame_steps, step.name
        for frame in frames:
            if frame not in target:
                target.append(frame)
                frame_steps.setdefault(frame, name)

    def facts(self, step: Step, **facts: Any) -> None:
        step.facts.update(facts)

    def lines(self, step: Step, *lines: str) -> None:
        step.lines.extend(lines)

    def direction(self, step: Step, side: Side) -> None:
        """A step both sides contributed to is 'both'."""
        if step.direction != side:
            step.direction = "both"

    def set_direction(self, step: Step, direction: str) -> None:
        step.direction = direction

    def answer(self, step: Step, reply: Reply, lines: list[str] | None) -> None:
        """The reply joins its command's step."""
        step.reply = reply
        step.facts["code"] = reply.code
        self.add_frames(step, reply.frames)
        if lines:
            step.lines.extend(lines)

    def reply_step(self, step: Step, reply: Reply) -> None:
        step.reply = reply

    # -- findings and notes ----------------------------------------------------------------
    def finding(self, name: FindingName, frames: Iterable[int], detail: str = "") -> None:
        key = (name, detail) if name in _PER_DETAIL else (name, "")
        existing = self._findings.get(key)
        if existing is not None:
            merge(existing.frames, frames)
            return
        found = Finding(name=name, frames=list(frames), detail=detail)
        self._findings[key] = found
        self.session.findings.append(found)

    def detail(self, name: DetailName, **facts: Any) -> str:
        return self.rules.details[name].format(**facts)

    def note(self, name: NoteName, **facts: Any) -> None:
        self.session.notes.append(self.rules.notes[name].format(**facts))

    def has_finding(self, name: FindingName) -> bool:
        return any(f.name == name for f in self.session.findings)

    # -- extensions and transactions -------------------------------------------------------
    def extensions(self, extensions: list[Extension], inside_tls: bool) -> None:
        if inside_tls:
            self.session.inner_extensions = extensions
        else:
            self.session.extensions = extensions

    def transaction(
        self, helo: str | None, mail_from: str | None, params: dict[str, str], tls: bool, frames: Iterable[int]
    ) -> Transaction:
        transaction = Transaction(helo=helo, mail_from=mail_from, mail_params=params, tls=tls, frames=list(frames))
        self.session.transactions.append(transaction)
        return transaction

    def transaction_frames(self, transaction: Transaction, frames: Iterable[int]) -> None:
        merge(transaction.frames, frames)

    def recipient(self, transaction: Transaction, address: str, params: str, frames: Iterable[int]) -> Recipient:
        recipient = Recipient(address=address, params=params, code=None, frames=list(frames))
        transaction.recipients.append(recipient)
        return recipient

    def recipient_code(self, recipient: Recipient, code: int) -> None:
        recipient.code = code

    def method(self, transaction: Transaction, method: str, chunk: int | None = None) -> None:
        transaction.method = method
        if chunk is not None:
            transaction.chunks.append(chunk)

    def last_reply(self, transaction: Transaction, reply: Reply) -> None:
        # Like Zeek's smtp.log: the last line of the latest reply in the transaction.
        transaction.last_reply = f"{reply.code} {reply.lines[-1]}".strip()

    def message(self, transaction: Transaction | None, step: Step, message: Message, size_key: str) -> None:
        step.facts.update({size_key: message.size, "subject": message.headers.get("subject", "")})
        if message.captured is not None:
            step.facts["captured"] = message.captured  # a snap length cut it: the bytes kept
        if transaction is not None:
            transaction.message = message
            merge(transaction.frames, step.frames)

    # -- TLS -------------------------------------------------------------------------------
    def tls(self, implicit: bool) -> TlsSummary:
        self.session.tls = TlsSummary(implicit=implicit)
        return self.session.tls

    def no_tls(self) -> None:
        """The connection did not turn to TLS after all (plaintext after STARTTLS's 220)."""
        self.session.tls = None

    def tls_fact(self, **facts: Any) -> None:
        """client_hello, server_hello, certificate, resumed, established, decrypted."""
        summary = self.session.tls
        assert summary is not None
        for key, value in facts.items():
            setattr(summary, key, value)

    def tls_established(self, established: bool) -> None:
        assert self.session.tls is not None
        self.session.tls.established = established

    def tls_alert(self, alert: dict[str, Any]) -> None:
        assert self.session.tls is not None
        self.session.tls.alerts.append(alert)

    def tls_record(self, side: Side) -> None:
        """One more application-data record from this side."""
        assert self.session.tls is not None
        self.session.tls.records[side] += 1

    def encrypted_records(self, step: Step, side: Side, count: int, size: int, frame: int) -> None:
        """`count` application-data records in `size` bytes from `side`, one frame more of the
        encrypted phase's step: what tls_bytes, tls_record, add_frames and direction record, in
        one call (this runs for most packets of a long session)."""
        summary = self.session.tls
        assert summary is not None
        summary.bytes[side] += size
        summary.records[side] += count
        frames = step.frames
        if frame not in frames:
            frames.append(frame)
            self.session.frame_steps.setdefault(frame, step.name)
        if step.direction != side:
            step.direction = "both"

    def tls_bytes(self, side: Side, size: int) -> None:
        assert self.session.tls is not None
        self.session.tls.bytes[side] += size

    # -- the end ---------------------------------------------------------------------------
    def keep_only(self, steps: frozenset[StepName], finding: FindingName) -> None:
        """Drop every step but these, and every finding but this one (a connection that is no SMTP)."""
        s = self.session
        s.steps = [st for st in s.steps if st.name in steps]
        s.frame_steps = {frame: name for frame, name in s.frame_steps.items() if name in steps}
        s.findings = [f for f in s.findings if f.name == finding]
        s.transactions = []

    def finish(self) -> Session:
        s = self.session
        s.steps.sort(key=lambda st: st.frames[0] if st.frames else 0)
        return s

    def duration(self, last_time: float) -> None:
        s = self.session
        s.duration = round(max(0.0, last_time - s.start), 6)

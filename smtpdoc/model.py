"""The explained model: what every renderer consumes.

The session machine fills the structural parts (frames, lines, facts); the
explain layer fills the words (`title`, `summary`, `explanation`) from the
catalog. Renderers read this and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = "smtpdoc/1"


@dataclass(slots=True)
class Endpoint:
    address: str
    port: int

    def __str__(self) -> str:
        if ":" in self.address:
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"


@dataclass(slots=True)
class Reply:
    code: int
    enhanced: str | None
    lines: list[str]  # text after the code, one per reply line
    frames: list[int]
    time: float  # seconds since the session started
    meaning: str = ""  # filled by explain


@dataclass(slots=True)
class Extension:
    keyword: str
    params: str
    human: str = ""  # filled by explain: "34.2 MiB", "mechanisms PLAIN, LOGIN"
    meaning: str = ""
    rfc: str = ""
    registered: bool = False


@dataclass(slots=True)
class Step:
    name: str  # catalog step name: "greeting", "ehlo_reply", ...
    frames: list[int]
    time: float  # seconds since the session started (first frame of the step)
    direction: str  # "client", "server", "both"
    lines: list[str] = field(default_factory=list)  # protocol lines, secrets redacted
    facts: dict[str, Any] = field(default_factory=dict)
    reply: Reply | None = None
    inside_tls: bool = False
    number: int = 0  # filled by explain: 1-based position in Session.steps (what the terminal prints)
    title: str = ""
    summary: str = ""
    explanation: str = ""
    rfc: str = ""


@dataclass(slots=True)
class Message:
    size: int
    headers: dict[str, str]  # from, to, cc, subject, date, message_id, in_reply_to, user_agent
    attachments: list[dict[str, str]]  # {"name": ..., "type": ...}
    truncated: bool = False
    # The headers of `headers` that carry RFC 2047 encoded words, decoded (headers stays as sent).
    decoded: dict[str, str] = field(default_factory=dict)
    # A snap length cut the message's frames: the bytes the capture kept (`size` counts the
    # bytes sent); `headers` come from the text before the first cut, a value it cut ends in "…".
    captured: int | None = None


@dataclass(slots=True)
class Recipient:
    address: str
    params: str
    code: int | None
    frames: list[int]


@dataclass(slots=True)
class Transaction:
    helo: str | None
    mail_from: str | None  # None when RCPT or DATA came without MAIL
    mail_params: dict[str, str]
    recipients: list[Recipient] = field(default_factory=list)
    method: str | None = None  # "DATA" or "BDAT"
    chunks: list[int] = field(default_factory=list)  # BDAT chunk sizes
    message: Message | None = None
    last_reply: str | None = None  # "250 2.0.0 Ok: queued as ..."
    tls: bool = False
    frames: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Finding:
    name: str
    frames: list[int]
    detail: str = ""  # what was seen, in a short phrase
    severity: str = ""  # filled by explain
    title: str = ""
    explanation: str = ""
    rfc: str = ""


@dataclass(slots=True)
class TlsSummary:
    implicit: bool = False
    client_hello: dict[str, Any] | None = None  # sni, versions, alpn, cipher_count
    server_hello: dict[str, Any] | None = None  # version, cipher
    certificate: dict[str, Any] | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    resumed: bool = False
    established: bool = False
    records: dict[str, int] = field(default_factory=lambda: {"client": 0, "server": 0})
    bytes: dict[str, int] = field(default_factory=lambda: {"client": 0, "server": 0})
    decrypted: bool = False


@dataclass(slots=True)
class Session:
    index: int  # 1-based position in the capture
    stream: int  # tcp.stream
    client: Endpoint
    server: Endpoint
    start: float  # epoch seconds of the first frame
    first_frame: int
    last_frame: int
    duration: float = 0.0
    steps: list[Step] = field(default_factory=list)
    server_name: str | None = None
    client_name: str | None = None
    extensions: list[Extension] = field(default_factory=list)
    inner_extensions: list[Extension] | None = None  # EHLO reply inside TLS, when decrypted
    transactions: list[Transaction] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    tls: TlsSummary | None = None
    frame_steps: dict[int, str] = field(default_factory=dict)  # frame -> step name
    notes: list[str] = field(default_factory=list)  # sentences about completeness


@dataclass(slots=True)
class Report:
    capture: str
    tshark_version: str
    sessions: Iterable[Session]  # lazy in explain_capture: consumed once, as sessions finish
    findings: list[Finding] = field(default_factory=list)  # capture-level (e.g. no_smtp)
    frames_read: int = 0
    schema: str = SCHEMA_VERSION
    filter_title: str = ""
    filter_explanation: str = ""


@dataclass(slots=True)
class CaptureSummary:
    """One capture of a many-capture run, as the table across captures shows it."""

    capture: str
    sessions: int = 0
    tls: int = 0  # sessions whose TLS handshake completed
    messages: int = 0  # transactions that carried a message
    findings: dict[str, int] = field(default_factory=dict)  # severity → count
    status: str = "explained"  # "explained", "cut short" or "failed"
    message: str = ""  # why it failed, or the warning

"""The catalog's entries: one frozen record per thing smtpdoc can explain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

SEVERITIES = ("info", "notice", "warning", "critical")


class CatalogError(ValueError):
    """A shipped catalog file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class StepInfo:
    """One step of an SMTP session as smtpdoc explains it."""

    name: str
    number: int
    title: str
    explanation: str
    summary: str
    rfc: str
    walkthrough: int | None
    colour: str
    button: str  # walkthrough steps: label on the Wireshark filter toolbar (else "")
    wireshark: str  # native display filter for this step's frames (no plugin, no annotation)
    # Words for a reply of another class than the usual one (5 → a refused EHLO): the class
    # digit of the reply decides them (0: no reply seen); keys are title, summary, explanation.
    by_class: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    # Words for what the machine saw, named by the step's `variant` fact (tcp_handshake:
    # "refused" for a SYN answered by RST); same keys as by_class.
    variants: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def for_variant(self, name: object) -> StepInfo:
        words = self.variants.get(name) if isinstance(name, str) else None
        return self._with(words) if words else self

    def for_reply(self, code: int | None) -> StepInfo:
        """This step's words for a reply with this code (None: no reply in the capture)."""
        words = self.by_class.get(code // 100 if code is not None else 0)
        return self._with(words) if words else self

    def _with(self, words: Mapping[str, str]) -> StepInfo:
        return replace(
            self,
            title=words.get("title", self.title),
            summary=words.get("summary", self.summary),
            explanation=words.get("explanation", self.explanation),
        )


@dataclass(frozen=True)
class CommandInfo:
    """An SMTP command verb."""

    verb: str
    title: str
    explanation: str
    rfc: str
    known: bool


@dataclass(frozen=True)
class ReplyInfo:
    """A three-digit SMTP reply code."""

    code: int
    title: str
    explanation: str
    rfc: str
    known: bool


@dataclass(frozen=True)
class EnhancedInfo:
    """An enhanced status code (RFC 3463) split into class, subject and detail."""

    code: str
    klass: str
    subject: str
    detail: str | None
    rfc: str


@dataclass(frozen=True)
class ExtensionInfo:
    """A keyword a server lists in its EHLO reply."""

    keyword: str
    title: str
    meaning: str
    rfc: str
    registered: bool
    known: bool


@dataclass(frozen=True)
class FindingInfo:
    """Something worth pointing out about a session."""

    name: str
    severity: str
    title: str
    explanation: str
    rfc: str
    # Other words for the same finding, by what the capture shows (auth_cleartext: what the
    # SASL mechanism exposes); keys are severity, title, explanation.
    variants: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def variant(self, key: str) -> FindingInfo:
        words = self.variants.get(key)
        if not words:
            return self
        return replace(
            self,
            severity=words.get("severity", self.severity),
            title=words.get("title", self.title),
            explanation=words.get("explanation", self.explanation),
        )


@dataclass(frozen=True)
class MechanismInfo:
    """A SASL mechanism named in AUTH."""

    name: str
    title: str
    explanation: str
    rfc: str
    cleartext_secret: bool
    known: bool
    # What an eavesdropper learns from the exchange: password, challenge_response, token,
    # designed_for_it (SCRAM, Kerberos: nothing reusable) or unknown.
    exposes: str = "unknown"

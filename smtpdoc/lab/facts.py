"""What a lab question can ask about: the facts of one explained session, by subject.

A subject is what a question template is tied to (`about` in catalog/questions.toml): a step,
the TLS handshake, the encrypted part, a transaction, a finding. Its facts are read from the
explained model only (what `explain_capture` hands every renderer), so a fact is known exactly
when smtpdoc saw it in this capture; a question needing an unknown fact is not asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from smtpdoc.model import Finding, Session, Step
from smtpdoc.render.common import frame_ranges

MIB = 1024 * 1024


@dataclass(frozen=True)
class Subject:
    key: str  # "step:greeting", "tls", "finding:auth_cleartext", ...
    facts: dict[str, Any]
    explanation: str  # what smtpdoc says about it (the catalog's words)
    where: str  # "step 2 of session 1: Server greeting (220)"
    position: int | None = None  # the step's place in session.steps (1-based), when it is a step
    frames: list[int] = field(default_factory=list)


def known(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _base(session: Session) -> dict[str, Any]:
    return {"stream": session.stream, "session": session.index, "scope": "the capture"}


def _positions(session: Session) -> dict[int, int]:
    return {id(step): position for position, step in enumerate(session.steps, 1)}


def _first(session: Session, name: str, inside_tls: bool | None = None) -> Step | None:
    """The first step called `name`; before TLS when there is one (or inside, when asked)."""
    steps = [s for s in session.steps if s.name == name]
    if inside_tls is not None:
        steps = [s for s in steps if s.inside_tls == inside_tls]
    else:
        steps.sort(key=lambda s: s.inside_tls)
    return steps[0] if steps else None


def _step_subject(session: Session, step: Step, key: str) -> Subject:
    position = _positions(session)[id(step)]
    facts = _base(session) | dict(step.facts)
    facts.update(
        frames=list(step.frames),
        first_frames=step.frames[:1],
        frame=step.frames[0] if step.frames else None,
        frames_text=frame_ranges(step.frames),
        title=step.title,
        position=position,
    )
    if step.reply is not None:
        facts.setdefault("code", step.reply.code)
    extra = _STEP_FACTS.get(step.name)
    if extra is not None:
        extra(session, step, facts)
    where = f"step {position} of session {session.index}: {step.title}"
    return Subject(key, facts, step.explanation, where, position, list(step.frames))


def _ehlo_reply_facts(session: Session, step: Step, facts: dict[str, Any]) -> None:
    extensions = session.inner_extensions if step.inside_tls else session.extensions
    names = [ext.keyword.upper() for ext in extensions or []]
    facts["extension_names"] = names
    size = next((ext.params for ext in extensions or [] if ext.keyword.upper() == "SIZE"), "")
    facts["size_bytes"] = int(size) if size.isdigit() and int(size) > 0 else None
    removed = step.facts.get("removed")
    facts["removed_list"] = list(removed) if isinstance(removed, list) else None


def _starttls_facts(session: Session, step: Step, facts: dict[str, Any]) -> None:
    later = session.steps[session.steps.index(step) + 1 :]
    reply = next((s for s in later if s.name == "starttls_reply"), None)
    if reply is None or reply.reply is None:
        return
    facts["reply_code"] = reply.reply.code
    facts["reply_text"] = " ".join(reply.reply.lines)
    facts["reply_frames"] = list(reply.frames)
    facts["exchange_frames"] = sorted(set(step.frames) | set(reply.frames))


def _message_facts(session: Session, step: Step, facts: dict[str, Any]) -> None:
    # The message step also holds the final reply; the message text is in its first frame.
    facts["first_frames"] = step.frames[:1]


_STEP_FACTS: dict[str, Callable[[Session, Step, dict[str, Any]], None]] = {
    "ehlo_reply": _ehlo_reply_facts,
    "starttls": _starttls_facts,
    "message": _message_facts,
}


def _tls_subject(session: Session) -> Subject | None:
    tls = session.tls
    hello = tls.server_hello if tls is not None else None
    step = _first(session, "tls_handshake")
    if not hello or step is None or not isinstance(hello.get("frame"), int):
        return None
    version = hello.get("version_name")
    cipher = hello.get("cipher_name")
    subject = _step_subject(session, step, "tls")
    facts = subject.facts
    facts.update(
        server_hello_frame=hello["frame"],
        server_hello_frames=[hello["frame"]],
        version_name=version if isinstance(version, str) and not version.startswith("unknown") else None,
        cipher_name=cipher if isinstance(cipher, str) and not cipher.startswith("0x") else None,
    )
    if facts["version_name"]:
        number = facts["version_name"].split()[-1]
        facts["version_aliases"] = [f"TLSv{number}", f"TLS{number}", f"TLS v{number}"]
    if facts["cipher_name"]:
        facts["cipher_aliases"] = [facts["cipher_name"].removeprefix("TLS_")]
    return subject


def _hidden_subject(session: Session, decrypted: bool) -> Subject | None:
    step = _first(session, "encrypted")
    if step is None or session.tls is None or session.tls.decrypted != decrypted:
        return None
    subject = _step_subject(session, step, "decrypted" if decrypted else "hidden")
    facts = subject.facts
    before = session.steps[: session.steps.index(step)]
    facts["hidden_after"] = max((f for s in before for f in s.frames), default=None)
    inside = [s for s in session.steps if s.inside_tls and s.frames]
    if decrypted:
        if not inside:
            return None
        verb = inside[0].facts.get("verb")
        facts.update(first_frame=inside[0].frames[0], first_frames=inside[0].frames[:1], first_verb=verb)
    return subject


def _transaction_subject(session: Session) -> Subject | None:
    if not session.transactions:
        return None
    transaction = session.transactions[0]
    mail = _first(session, "mail_from")
    if mail is None or transaction.mail_from is None or not transaction.recipients:
        return None
    subject = _step_subject(session, mail, "transaction")
    facts = subject.facts
    rcpt_frames = [r.frames[0] for r in transaction.recipients if r.frames]
    facts.update(
        mail_from=transaction.mail_from,
        recipients=[r.address for r in transaction.recipients],
        envelope_frames=sorted({*mail.frames[:1], *rcpt_frames}),
    )
    return subject


def _finding_subject(session: Session, finding: Finding) -> Subject:
    facts = _base(session) | {
        "frames": list(finding.frames),
        "first_frame": finding.frames[0] if finding.frames else None,
        "frames_text": frame_ranges(finding.frames),
        "title": finding.title,
        "detail": finding.detail,
        "detail_sentence": f"smtpdoc saw: {finding.detail}. " if finding.detail else f"{finding.title}. ",
        "explanation": finding.explanation,
        "severity": finding.severity,
    }
    auth = _first(session, "auth")
    if auth is not None and auth.frames:
        facts.update(auth_frame=auth.frames[0], auth_frames=auth.frames[:1], mechanism=auth.facts.get("mechanism"))
    offers = [s for s in session.steps if s.name == "ehlo_reply" and "STARTTLS" in s.facts.get("extensions", [])]
    if offers and offers[0].frames:
        facts.update(offer_frame=offers[0].frames[0], offer_frames=offers[0].frames[:1])
    where = f"finding of session {session.index}: {finding.title}"
    return Subject(f"finding:{finding.name}", facts, finding.explanation, where, None, list(finding.frames))


def subjects(session: Session, smtp_title: str, smtp_explanation: str, sessions: int = 1) -> dict[str, Subject]:
    """Every subject the session has facts for, by key (`sessions`: how many the capture holds)."""
    found: dict[str, Subject] = {}
    for step in sorted(session.steps, key=lambda s: s.inside_tls):  # stable: before TLS first
        for key in (f"step:{step.name}", f"tls_step:{step.name}" if step.inside_tls else ""):
            if key and key not in found:
                found[key] = _step_subject(session, step, key)
    smtp_frames = sorted({f for s in session.steps if s.lines for f in s.frames})
    if smtp_frames:
        facts = _base(session) | {"smtp_frames": smtp_frames, "frames_text": frame_ranges(smtp_frames)}
        found["session"] = Subject(
            "session", facts, smtp_explanation, f"session {session.index}: {smtp_title}", None, smtp_frames
        )
    made: dict[str, Subject | None] = {
        "tls": _tls_subject(session),
        "hidden": _hidden_subject(session, decrypted=False),
        "decrypted": _hidden_subject(session, decrypted=True),
        "transaction": _transaction_subject(session),
    }
    found.update({key: subject for key, subject in made.items() if subject is not None})
    for finding in session.findings:
        key = f"finding:{finding.name}"
        if key not in found:
            found[key] = _finding_subject(session, finding)
    if sessions > 1:
        for subject in found.values():
            subject.facts["scope"] = f"session {session.index} (tcp.stream {session.stream})"
    return found

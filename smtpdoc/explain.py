"""The plain-language layer: run tshark, rebuild sessions, put the catalog's words on them.

`explain_capture` is the one entry point the CLI needs. It streams: sessions
are explained and handed on as they finish, so a renderer can write them out
while tshark is still reading the capture.
"""

from __future__ import annotations

import functools
import os
import re
import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from smtpdoc import passes, pcapng, pdml_args
from smtpdoc.catalog import Catalog, load_catalog
from smtpdoc.demux import Demux, run_streams
from smtpdoc.errors import CaptureUnreadable
from smtpdoc.message import decode_words
from smtpdoc.model import Extension, Finding, Report, Session, Step
from smtpdoc.passes import Outcome
from smtpdoc.session import SMTP_PORTS, Options
from smtpdoc.tshark import Tshark

_SEVERITY_ORDER = {"critical": 0, "warning": 1, "notice": 2, "info": 3}


@dataclass
class Settings:
    reveal_secrets: bool = False
    stream: int | None = None
    keylog: str | None = None
    decode_as: Sequence[int] = ()
    smtp_ports: frozenset[int] = SMTP_PORTS
    progress: Callable[[int], None] | None = None  # called with the number of frames read so far


def explain_capture(capture: str, tshark: Tshark, settings: Settings) -> tuple[Report, Outcome]:
    """A Report whose `sessions` is a lazy iterator; `Outcome` is complete once it is consumed.

    tshark starts at once: it loads while the catalog and the renderer get ready.
    """
    if os.path.isfile(capture) and os.path.getsize(capture) == 0:
        # tshark takes a 0-byte file for an empty ERF capture and says nothing.
        raise CaptureUnreadable(f"cannot read '{capture}': the file is empty (0 bytes), so it is not a capture")
    display_filter = pdml_args.DISPLAY_FILTER
    if settings.stream is not None:
        display_filter = f"tcp.stream == {settings.stream} && ({display_filter})"
    first = passes.start(
        capture,
        tshark,
        keylog=settings.keylog,
        decode_as=settings.decode_as,
        display_filter=display_filter,
        smtp_ports=settings.smtp_ports if settings.stream is None else None,  # a whole capture may be narrowed
    )
    catalog = load_catalog()
    outcome = Outcome()
    report = Report(capture=capture, tshark_version=tshark.version_text, sessions=[])
    report.filter_title, report.filter_explanation = catalog.filter_intro
    sessions = _sessions(capture, tshark, settings, catalog, outcome, report, display_filter, first)
    report.sessions = _with_capture_findings(sessions, report, outcome, catalog)
    return report, outcome


# This many failed logins from one client address, across the capture's sessions, is guessing.
BRUTE_FORCE_FAILURES = 5


def _with_capture_findings(
    sessions: Iterator[Session], report: Report, outcome: Outcome, catalog: Catalog
) -> Iterator[Session]:
    """The sessions as they come; then what only the whole capture shows, as report findings:
    a capture cut short (said in every format, not only on stderr), and many failed logins
    from one client (password guessing spread over sessions)."""
    failures: dict[str, list[int]] = {}
    sessions_of: dict[str, set[int]] = {}
    for session in sessions:
        for step in session.steps:
            if step.name == "auth" and step.facts.get("outcome") == "rejected":
                failures.setdefault(session.client.address, []).append(step.frames[0])
                sessions_of.setdefault(session.client.address, set()).add(session.index)
        yield session
    for client, frames in failures.items():
        if len(frames) >= BRUTE_FORCE_FAILURES:
            count = len(sessions_of[client])
            detail = f"{len(frames)} failed logins from {client} in {count} session{'s' if count > 1 else ''}"
            report.findings.append(_finding(Finding(name="auth_brute_force", frames=frames, detail=detail), catalog))
    if outcome.cut_short:
        detail = "the file ends in the middle of a packet"
        report.findings.append(_finding(Finding(name="capture_cut_short", frames=[], detail=detail), catalog))


def _sessions(
    capture: str,
    tshark: Tshark,
    settings: Settings,
    catalog: Catalog,
    outcome: Outcome,
    report: Report,
    display_filter: str,
    first_pass: passes.First,
) -> Iterator[Session]:
    ports = settings.smtp_ports | frozenset(settings.decode_as)
    options = Options(reveal_secrets=settings.reveal_secrets, smtp_ports=ports)
    demux = Demux(options, can_decrypt=functools.cache(partial(_has_keys, capture, settings.keylog)))
    read = partial(passes.packets, capture, tshark, keylog=settings.keylog, outcome=outcome)
    first = read(
        decode_as=settings.decode_as, display_filter=display_filter, progress=settings.progress, first=first_pass
    )
    for packet in first:
        for session in demux.feed(packet):
            outcome.sessions += 1
            yield explain_session(session, catalog)
    for session in demux.close():
        outcome.sessions += 1
        yield explain_session(session, catalog)
    if demux.held:
        # SMTP found by its "220" on ports tshark does not know, gone to TLS: dissect those
        # streams again with a decode-as so that tshark reads their TLS too.
        # Implicit TLS there, with keys: dissect the port as TLS carrying SMTP.
        streams = ", ".join(str(s) for s in sorted(demux.held))
        redo = demux.held.values()
        extra = tuple(sorted(set(settings.decode_as) | {r.port for r in redo if not r.implicit_tls}))
        tls_ports = tuple(sorted({r.port for r in redo if r.implicit_tls} - set(extra)))
        focus = f"tcp.stream in {{{streams}}} && ({pdml_args.DISPLAY_FILTER})"
        again = read(decode_as=extra, tls_ports=tls_ports, display_filter=focus)
        redone = run_streams(again, Options(reveal_secrets=settings.reveal_secrets, smtp_ports=ports | set(extra)))
        for session in demux.resolve(redone):
            outcome.sessions += 1
            yield explain_session(session, catalog)
    if outcome.sessions == 0:
        detail = "no packets" if outcome.frames == 0 else f"{outcome.frames} TCP frames, none of them SMTP"
        report.findings.append(_finding(Finding(name="no_smtp", frames=[], detail=detail), catalog))


def _has_keys(capture: str, keylog: str | None) -> bool:
    """Can tshark decrypt TLS in this capture: a key log, or TLS secrets inside the pcapng?"""
    if keylog is not None:
        return True
    try:
        with open(capture, "rb") as src:
            return pcapng.has_tls_secrets(src)
    except (OSError, pcapng.PcapngError):
        return False  # not a pcapng file one can read: the passes say what is wrong with it


# -- words ---------------------------------------------------------------------------------
class _Facts(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


_OPTIONAL = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
# A template cut at its `[[...]]` parts: the text between them, and each part with the names it
# needs; None when a part does not parse (the template is then shown as written). Parsed once
# per template: a catalog has a few hundred, a capture has a step per command.
_Pieces = tuple[tuple[str, str, frozenset[str]], ...]
_PIECES: dict[str, tuple[_Pieces, str] | None] = {}


def _pieces(template: str) -> tuple[_Pieces, str] | None:
    if template in _PIECES:
        return _PIECES[template]
    pieces: list[tuple[str, str, frozenset[str]]] = []
    at = 0
    try:
        for match in _OPTIONAL.finditer(template):
            names = frozenset(field for _, field, _, _ in string.Formatter().parse(match[1]) if field)
            pieces.append((template[at : match.start()], match[1], names))
            at = match.end()
        found: tuple[_Pieces, str] | None = (tuple(pieces), template[at:])
    except ValueError:
        found = None
    _PIECES[template] = found
    return found


def _fill(template: str, facts: dict[str, Any]) -> str:
    """Fill a catalog template; a `[[...]]` part is dropped when a value it names is unknown."""
    values = _Facts({k: v for k, v in facts.items() if v is not None and v != "" and v != []})
    cut = _pieces(template)
    if cut is None:
        return template
    pieces, tail = cut
    text = "".join(before + (part if names <= values.keys() else "") for before, part, names in pieces) + tail
    try:
        return text.format_map(values)  # _Facts answers "?" for a name it lacks
    except (ValueError, IndexError, KeyError, AttributeError):
        return template


def human_size(size: int) -> str:
    units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
    value = float(size)
    unit = 0
    while value >= 1024 and unit < len(units) - 1:
        value /= 1024
        unit += 1
    return f"{size} bytes" if unit == 0 else f"{value:.1f} {units[unit]}"


def _extension(ext: Extension, catalog: Catalog) -> Extension:
    keyword = ext.keyword.upper()
    info = catalog.extension(keyword)
    if not info.known and keyword.startswith("AUTH="):
        info = catalog.extension("AUTH=LOGIN")
    ext.meaning = info.meaning
    ext.rfc = info.rfc
    ext.registered = info.registered
    params = ext.params
    if keyword == "SIZE":
        if params.isascii() and params.isdigit() and int(params) > 0:  # '²' is a digit to isdigit
            ext.human = f"messages up to {human_size(int(params))} ({int(params):,} bytes)"
        else:
            ext.human = "the server announces no fixed size limit"
    elif keyword == "AUTH" or keyword.startswith("AUTH="):
        mechs = params.split() + ([keyword.partition("=")[2]] if "=" in keyword else [])
        ext.human = "login methods: " + ", ".join(f"{m} ({catalog.mechanism(m).title})" for m in mechs if m)
    elif params:
        ext.human = params
    return ext


def _finding(found: Finding, catalog: Catalog) -> Finding:
    info = catalog.finding(found.name)
    if found.name == "auth_cleartext" and found.detail.startswith("AUTH "):
        # What an eavesdropper gets depends on the mechanism: a password, a challenge and its
        # answer, a bearer token, or nothing reusable (SCRAM).
        info = info.variant(catalog.mechanism(found.detail[5:]).exposes)
    found.severity = info.severity
    found.title = info.title
    found.explanation = info.explanation
    found.rfc = info.rfc
    return found


def _step_facts(step: Step, session: Session, catalog: Catalog) -> dict[str, Any]:
    facts = dict(step.facts)
    own_reply = step.name in ("ehlo_reply", "starttls_reply", "greeting") or "variant" in step.facts
    if own_reply and step.reply is not None:
        facts.setdefault("code", step.reply.code)
        facts.setdefault("text", " ".join(step.reply.lines))
    if step.name == "ehlo_reply" and facts.get("echoed_name") and not facts.get("server_name"):
        facts["server_name"] = "The server"
    if facts.get("pipelined") is True:
        facts["pipelined"] = "pipelined: sent before the replies to earlier commands came"
    if step.name == "tls_handshake":
        version = facts.get("version")
        cipher = facts.get("cipher")
        facts["version"] = catalog.tls_version(version) if isinstance(version, int) else None
        facts["cipher"] = catalog.cipher_suite(cipher)[0] if isinstance(cipher, int) else None
    if step.name == "auth":
        facts["mechanism"] = facts.get("mechanism") or "?"
    if step.name == "message":
        for key in ("size", "captured"):
            if isinstance(facts.get(key), int):
                facts[key] = human_size(facts[key])
        if "captured" in facts:
            facts["size"] = f"up to {facts['size']}"  # the bytes sent in its frames, the final dot too
    subject = facts.get("subject")
    if isinstance(subject, str) and (decoded := decode_words(subject)) is not None:
        facts["subject"] = f"{decoded}, sent encoded as {subject}"  # RFC 2047: the words beside the bytes
    for key in ("added", "removed"):
        if isinstance(facts.get(key), list):
            facts[key] = ", ".join(facts[key])
    if step.name == "encrypted":
        facts["duration"] = f"{facts.get('duration', 0)} s"
    return facts


def explain_session(session: Session, catalog: Catalog) -> Session:
    for position, step in enumerate(session.steps, 1):
        info = catalog.step(step.name).for_reply(step.reply.code if step.reply is not None else None)
        info = info.for_variant(step.facts.get("variant"))
        step.number = position  # the step's place in this session, as every renderer numbers it
        step.title = info.title
        step.rfc = info.rfc
        step.explanation = info.explanation
        step.summary = _fill(info.summary, _step_facts(step, session, catalog))
        if step.name == "command":
            verb = str(step.facts.get("verb") or "")
            if verb:
                command = catalog.command(verb)
                step.explanation = f"{command.title}: {command.explanation}"
                step.rfc = command.rfc
        if step.reply is not None:
            step.reply.meaning = catalog.reply(step.reply.code).title
            enhanced = catalog.enhanced(step.reply.enhanced) if step.reply.enhanced else None
            if enhanced is not None:
                detail = enhanced.detail or enhanced.subject
                step.reply.meaning += f"; {step.reply.enhanced}: {detail}"
    for ext in session.extensions:
        _extension(ext, catalog)
    for ext in session.inner_extensions or []:
        _extension(ext, catalog)
    if session.tls is not None:
        _tls_words(session, catalog)
    session.findings += _model_findings(session)
    for found in session.findings:
        _finding(found, catalog)
        found.detail = _detail_words(found, catalog)
        if found.name == "error_reply" and found.detail:
            code = found.detail.split(" ", 1)[0]
            if code.isascii() and code.isdigit():
                found.explanation = f"{catalog.reply(int(code)).title}. {found.explanation}"
    session.findings.sort(key=lambda f: (_SEVERITY_ORDER.get(f.severity, 9), f.frames[:1] or [0]))
    return session


_TLS_VERSION_DETAIL = re.compile(r"0x([0-9a-fA-F]{4})")
_ALERT_DETAIL = re.compile(r"^(fatal )?alert (\d+)$")


def _detail_words(found: Finding, catalog: Catalog) -> str:
    """A finding's detail with TLS numbers in words: TLS 1.0, not 0x0301; alerts by name."""
    if found.name == "tls_old_version":
        match = _TLS_VERSION_DETAIL.fullmatch(found.detail)
        if match is not None:
            return f"{catalog.tls_version(int(match[1], 16))} ({found.detail})"
    if found.name in ("tls_alert", "tls_handshake_failure"):
        match = _ALERT_DETAIL.match(found.detail)
        if match is not None:
            return f"{match[1] or ''}alert {catalog.tls_alert(int(match[2]))[0]} ({match[2]})"
    return found.detail


def _model_findings(session: Session) -> list[Finding]:
    """Facts the explained model shows at a glance: where the SMTP ran, and mail sent in clear."""
    # Issue 9: these belong in the session machine's rule table once it has one.
    found: list[Finding] = []
    greeted = any(step.name == "greeting" for step in session.steps)
    port = _service_port(session)
    if greeted and port not in _STANDARD_PORTS:
        found.append(Finding(name="smtp_unusual_port", frames=[session.first_frame], detail=f"port {port}"))
    clear = [t for t in session.transactions if t.message is not None and not t.tls]
    named = {f.name for f in session.findings}
    sharper = {"cleartext_after_refusal", "starttls_stripped", "starttls_plaintext"}
    if clear and session.tls is None and not named & sharper:
        frames = sorted({frame for t in clear for frame in t.frames})
        detail = f"{len(clear)} message{'s' if len(clear) > 1 else ''} without TLS"
        found.append(Finding(name="mail_cleartext", frames=frames[-1:], detail=detail))
    return found


_STANDARD_PORTS = frozenset({25, 465, 587})  # RFC 5321, RFC 8314, RFC 6409


def _service_port(session: Session) -> int:
    """The port the SMTP server listens on: the server's, or inside a proxy tunnel its target's."""
    tunnel = next((step for step in session.steps if step.name == "tunnel"), None)
    target = tunnel.facts.get("target_port") if tunnel is not None else None
    return target if isinstance(target, int) else session.server.port


def _tls_words(session: Session, catalog: Catalog) -> None:
    tls = session.tls
    assert tls is not None
    if tls.server_hello:
        version = tls.server_hello.get("version")
        cipher = tls.server_hello.get("cipher")
        if isinstance(version, int):
            tls.server_hello["version_name"] = catalog.tls_version(version)
        if isinstance(cipher, int):
            name, words = catalog.cipher_suite(cipher)
            tls.server_hello["cipher_name"] = name
            tls.server_hello["cipher_words"] = words
            frame = tls.server_hello.get("frame")
            for weakness in catalog.cipher_weaknesses(cipher):
                frames = [frame] if isinstance(frame, int) else []
                session.findings.append(Finding(name=weakness, frames=frames, detail=name))
    if tls.client_hello:
        tls.client_hello["version_names"] = [catalog.tls_version(v) for v in tls.client_hello.get("versions", [])]
    for alert in tls.alerts:
        name, words = catalog.tls_alert(int(alert["description"]))
        alert["name"] = name
        alert["words"] = words

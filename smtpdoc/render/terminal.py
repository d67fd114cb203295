"""The default, human output: one block per session, one numbered line per step.

Written for a person reading a terminal, on captures of any size:
- the teaching text (a step's explanation, a reply code's meaning, an extension's
  meaning, a finding's explanation) is given once per run; later steps of the
  same kind point back to where it was given;
- a run of many steps of one kind (600 RCPT TO) shows its first few and counts
  the rest with their replies; a long recipient list is cut the same way;
- capture-derived strings are cut at a bound and say their full length, and
  binary is shown as escaped bytes (`printable`);
- a multi-session run ends with a one-line-per-session table (`--summary`
  prints only that).
Plain string formatting and `click.style` keep it about as fast as the JSON
renderer on thousands of sessions.
"""

from __future__ import annotations

import functools
import shutil
import textwrap
from dataclasses import dataclass
from typing import TextIO

import click

from smtpdoc.model import Extension, Finding, Report, Session, Step, Transaction
from smtpdoc.render import RenderOptions, register
from smtpdoc.render.common import (
    LINE_BOUND,
    TEXT_BOUND,
    VALUE_BOUND,
    bounded,
    frame_ranges,
    printable,
    severity_counts,
    tls_label,
)

_SEVERITY_STYLE = {"critical": ("red", True), "warning": ("yellow", False), "notice": ("cyan", False)}
RUN_SHOWN = 3  # steps shown of a run of one kind before the rest is counted
RUN_MIN = 6  # a run is counted only from this length on
RECIPIENTS_SHOWN = 5
LINES_SHOWN = 6
_PLURAL = {"rcpt_to": "recipients", "command": "commands", "encrypted": "encrypted steps"}


@dataclass(slots=True)
class _Row:
    index: int
    client: str
    server: str
    tls: str
    messages: int
    findings: str


class _Writer:
    def __init__(self, out: TextIO, options: RenderOptions) -> None:
        self.out = out
        self.options = options
        self.colour = options.colour
        self.width = options.width or (shutil.get_terminal_size((100, 24)).columns if options.colour else 100)
        self.taught: dict[str, str] = {}  # explanation → where it was first given
        self.meanings: set[str] = set()
        self.extensions: set[str] = set()
        self.rows: list[_Row] = []
        self.session = 0

    # -- primitives -------------------------------------------------------------------
    def style(self, text: str, fg: str | None = None, bold: bool = False, dim: bool = False) -> str:
        return click.style(text, fg=fg, bold=bold, dim=dim) if self.colour else text

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def para(self, text: str, indent: int, fg: str | None = None, dim: bool = False) -> None:
        """Prose wrapped to the width, every line indented."""
        room = max(20, self.width - indent)
        pad = " " * indent
        lines = (text,) if len(text) <= room else _wrapped(text, room)
        for part in lines:
            self.line(pad + self.style(part, fg=fg, dim=dim))

    def teach(self, text: str, where: str, indent: int = 6) -> str | None:
        """Give a piece of teaching text the first time; afterwards, where it was given."""
        if not text:
            return None
        earlier = self.taught.get(text)
        if earlier is not None:
            return earlier
        self.taught[text] = where
        if not self.options.brief:
            self.para(text, indent, dim=True)
        return None


@functools.lru_cache(maxsize=2048)
def _wrapped(text: str, room: int) -> tuple[str, ...]:
    # Sessions of one capture repeat much of their prose (the same server's replies, the same
    # summaries): textwrap was a third of this renderer's time on 500 sessions. Bounded, so
    # memory stays flat however many sessions there are.
    return tuple(textwrap.wrap(text, room, break_on_hyphens=False))


@register("terminal", "text", "txt")
def render(report: Report, out: TextIO, options: RenderOptions) -> None:
    w = _Writer(out, options)
    if not options.summary_only:
        w.line(w.style(f"smtpdoc — {printable(report.capture)}", bold=True))
        if not options.findings_only:
            w.line(w.style(f"Step 0. {report.filter_title}", bold=True))
        if not options.brief and not options.findings_only:
            w.para(report.filter_explanation, 3, dim=True)
    quiet_sessions = 0
    for session in report.sessions:
        w.session = session.index
        w.rows.append(_row(session))
        if options.summary_only:
            continue
        if options.findings_only:
            if session.findings:
                w.line()
                _head(w, session)
                _findings(w, session.findings)
            else:
                quiet_sessions += 1
            continue
        w.line()
        _session(w, session)
    if report.findings and not options.summary_only:
        w.line()
        _findings(w, report.findings, indent=0)
    if not w.rows and (options.summary_only or not report.findings):
        w.line("No SMTP session found.")
        return
    if options.findings_only and quiet_sessions:
        w.line()
        w.line(f"{quiet_sessions} of {len(w.rows)} session(s) without findings to show.")
    if options.summary_only or (len(w.rows) > 1 and not options.findings_only):
        _table(w)


def _row(session: Session) -> _Row:
    messages = sum(1 for tr in session.transactions if tr.message is not None)
    return _Row(
        session.index,
        printable(session.client),
        printable(session.server),
        tls_label(session),
        messages,
        severity_counts([f.severity for f in session.findings]),
    )


def _table(w: _Writer) -> None:
    head = ("#", "client", "server", "TLS", "messages", "findings")
    cells = [head] + [(str(r.index), r.client, r.server, r.tls, str(r.messages), r.findings) for r in w.rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    if not w.options.summary_only:
        w.line()
    w.line(w.style(f"Summary: {len(w.rows)} session(s)", bold=True))
    for n, row in enumerate(cells):
        text = "  ".join(cell.rjust(widths[i]) if i in (0, 4) else cell.ljust(widths[i]) for i, cell in enumerate(row))
        w.line(w.style(text.rstrip(), bold=True) if n == 0 else text.rstrip())


def _head(w: _Writer, session: Session) -> None:
    frames = f"{session.first_frame}-{session.last_frame}"
    where = f"  tcp.stream {session.stream}, frames {frames}, {session.duration:.3f} s"
    w.line(
        w.style(f"Session {session.index}", bold=True, fg=None)
        + f"  {printable(session.client)} → {printable(session.server)}"
        + w.style(where, dim=True)
    )


def _session(w: _Writer, session: Session) -> None:
    _head(w, session)
    for note in session.notes:
        w.para(bounded(printable(note), TEXT_BOUND), 2)
    steps = session.steps
    i = 0
    while i < len(steps):
        run = 1
        while i + run < len(steps) and steps[i + run].name == steps[i].name:
            run += 1
        shown = run if run < RUN_MIN else RUN_SHOWN
        for k in range(i, i + shown):
            _step(w, session, k + 1, steps[k])
        if shown < run:
            _counted(w, steps[i + shown : i + run])
        i += run
    if session.transactions:
        w.line(w.style("  Transactions", bold=True))
        for n, tr in enumerate(session.transactions, 1):
            w.para(_transaction_text(n, tr), 4)
    if session.findings:
        w.line(w.style("  Findings", bold=True))
        _findings(w, session.findings)


def _counted(w: _Writer, rest: list[Step]) -> None:
    """One line for the rest of a run: '… 594 more recipients, all accepted (250)'."""
    noun = _PLURAL.get(rest[0].name, f"“{printable(rest[0].title)}” steps")
    codes = [s.reply.code if s.reply is not None else None for s in rest]
    frames = [f for s in rest for f in s.frames]
    span = f" (frames {min(frames)}-{max(frames)})" if frames else ""
    tally: dict[str, int] = {}
    for code in codes:
        key = "no reply" if code is None else str(code)
        tally[key] = tally.get(key, 0) + 1
    if codes and all(c is not None and 200 <= c < 300 for c in codes):
        outcome = f"all accepted ({', '.join(sorted(tally))})"
    else:
        outcome = ", ".join(f"{n} with {key}" for key, n in sorted(tally.items()))
    w.para(f"… {len(rest)} more {noun}{span}, {outcome}", 5, dim=True)


def _step(w: _Writer, session: Session, position: int, step: Step) -> None:
    here = f"session {session.index}, step {position}"
    title = w.style(printable(step.title), fg="magenta" if step.inside_tls else "cyan", bold=True)
    tls = w.style(" (inside TLS)", fg="magenta") if step.inside_tls else ""
    head = f"  {w.style(f'{position:>2}.', bold=True)} {title}{tls}" + w.style(
        f"  frames {frame_ranges(step.frames)}  +{step.time:.3f}s", dim=True
    )
    earlier = w.taught.get(step.explanation) if step.explanation else None
    if earlier is not None and not w.options.brief:
        same = earlier.startswith(f"session {session.index}, ")
        head += w.style(f"  (explained at {earlier.split(', ')[1] if same else earlier})", dim=True)
    w.line(head)
    w.para(bounded(printable(step.summary), TEXT_BOUND), 6)
    lines = step.lines
    if step.name == "ehlo_reply":
        lines = lines[:1]  # the extensions follow, each once
    shown = lines if len(lines) <= LINES_SHOWN + 1 else lines[:LINES_SHOWN]
    for proto_line in shown:
        w.line("      " + w.style(bounded(printable(proto_line), LINE_BOUND), fg="green"))
    if len(shown) < len(lines):
        w.line("      " + w.style(f"… {len(lines) - len(shown)} more lines", dim=True))
    if step.name == "ehlo_reply":
        _extensions(w, session.inner_extensions if step.inside_tls else session.extensions)
    if step.name == "tls_handshake" and session.tls is not None and session.tls.certificate:
        cert = session.tls.certificate
        text = f"Certificate: {cert.get('subject', '?')}, issued by {cert.get('issuer', '?')}"
        if cert.get("not_after"):
            text += f", valid until {cert['not_after']}"
        w.para(bounded(printable(text), TEXT_BOUND), 6)
    if step.reply is not None and step.reply.meaning and not w.options.brief:
        # "OK; 2.1.5: Destination address valid": the code's and the enhanced code's meaning, each once
        code_part, _, enhanced_part = step.reply.meaning.partition("; ")
        parts = [f"{step.reply.code}: {code_part}"] + ([enhanced_part] if enhanced_part else [])
        new = [part for part in parts if part not in w.meanings]
        w.meanings.update(new)
        if new:
            w.para("; ".join(new), 6, dim=True)
    if earlier is None and step.explanation:
        w.teach(f"{step.explanation} ({step.rfc})" if step.rfc else step.explanation, here)
        w.taught[step.explanation] = here


def _extensions(w: _Writer, extensions: list[Extension] | None) -> None:
    if not extensions:
        return
    if w.options.brief:
        names = ", ".join(printable(f"{e.keyword} {e.params}".strip()) for e in extensions)
        w.para(f"Extensions: {bounded(names, TEXT_BOUND)}", 6)
        return
    known = [e for e in extensions if e.keyword.upper() in w.extensions]
    seen = {e.keyword.upper() for e in known}
    for ext in extensions:
        if ext.keyword.upper() in seen:
            continue
        w.extensions.add(ext.keyword.upper())
        text = f"• {printable(ext.keyword)}" + (f" — {printable(ext.human)}" if ext.human else "")
        if ext.meaning:
            text += f": {ext.meaning}"
        w.para(text, 8)
    if known:
        names = ", ".join(printable(e.keyword) + (f" ({printable(e.human)})" if e.human else "") for e in known)
        w.para(f"• also {names} (explained above)", 8)


def _transaction_text(n: int, tr: Transaction) -> str:
    shown = tr.recipients[:RECIPIENTS_SHOWN]
    parts = [f"{bounded(printable(r.address), VALUE_BOUND)} ({r.code if r.code is not None else '?'})" for r in shown]
    rest = tr.recipients[RECIPIENTS_SHOWN:]
    if rest:
        accepted = sum(1 for r in rest if r.code is not None and 200 <= r.code < 300)
        outcome = "all accepted" if accepted == len(rest) else f"{accepted} accepted, {len(rest) - accepted} not"
        parts.append(f"… {len(rest)} more recipients, {outcome}")
    sender = bounded(printable(tr.mail_from), VALUE_BOUND) if tr.mail_from is not None else "?"
    text = f"{n}. from <{sender}> to {', '.join(parts) or '-'}"
    if tr.message is not None:
        text += f"; {tr.message.size:,} bytes"
        if tr.message.captured is not None:
            text += f" ({tr.message.captured:,} captured)"
        subject = tr.message.headers.get("subject")
        if subject:
            text += f"; subject “{bounded(printable(subject), VALUE_BOUND)}”"
    if tr.last_reply:
        text += f"; last reply {bounded(printable(tr.last_reply), VALUE_BOUND)}"
    return text


def _findings(w: _Writer, findings: list[Finding], indent: int = 4) -> None:
    pad = " " * indent
    for f in findings:
        fg, bold = _SEVERITY_STYLE.get(f.severity, (None, False))
        text = pad + w.style(f"[{f.severity}]", fg=fg, bold=bold) + " " + w.style(printable(f.title), bold=True)
        if f.detail:
            text += f" — {bounded(printable(f.detail), TEXT_BOUND)}"
        if f.frames:
            text += w.style(f" (frames {frame_ranges(f.frames)})", dim=True)
        w.line(text)
        if f.explanation:
            explanation = f"{f.explanation} ({f.rfc})" if f.rfc else f.explanation
            earlier = w.teach(explanation, f"session {w.session}", indent + 2)
            if earlier is not None and not w.options.brief:
                w.line(pad + "  " + w.style(f"(explained above, {earlier})", dim=True))

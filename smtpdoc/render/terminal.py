"""The default, human output: one block per session, one numbered line per step."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.text import Text

from smtpdoc.model import Extension, Report, Session, Step
from smtpdoc.render import RenderOptions, register
from smtpdoc.render.common import frame_ranges, printable

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "notice": "cyan", "info": "dim"}
_MAX_LINES = 6


def _t(value: object, style: str = "") -> Text:
    # Text objects are never parsed as markup: capture text cannot inject styles.
    return Text(printable(value), style=style)


@register("terminal", "text", "txt")
def render(report: Report, out: TextIO, options: RenderOptions) -> None:
    console = Console(
        file=out,
        force_terminal=options.colour,
        no_color=not options.colour,
        highlight=False,
        emoji=False,
        width=options.width or (None if options.colour else 100),
        soft_wrap=False,
    )
    console.print(_t(f"smtpdoc — {report.capture}", "bold"))
    console.print(_t(f"Step 0. {report.filter_title}", "bold"))
    if not options.brief:
        _indented(console, _t(report.filter_explanation, "dim"), 3)
    count = 0
    for session in report.sessions:
        count += 1
        console.print()
        _session(console, session, options.brief)
    for finding in report.findings:
        console.print()
        console.print(_t(f"{finding.title}: {finding.detail}", "bold"))
        _indented(console, _t(finding.explanation), 3)
    if count == 0 and not report.findings:
        console.print(_t("No SMTP session found."))


def _session(console: Console, session: Session, brief: bool) -> None:
    head = Text()
    head.append(f"Session {session.index}", style="bold underline")
    head.append(f"  {printable(session.client)} → {printable(session.server)}")
    head.append(
        f"  tcp.stream {session.stream}, frames {session.first_frame}-{session.last_frame}, {session.duration:.3f} s",
        style="dim",
    )
    console.print(head)
    for note in session.notes:
        _indented(console, _t(note, "italic"), 2)
    for i, step in enumerate(session.steps, 1):
        _step(console, i, step, brief)
        if step.name == "ehlo_reply":
            _extensions(console, session.inner_extensions if step.inside_tls else session.extensions, brief)
    if session.transactions:
        console.print(_t("  Transactions", "bold"))
        for n, tr in enumerate(session.transactions, 1):
            rcpts = ", ".join(f"{r.address} ({r.code if r.code is not None else '?'})" for r in tr.recipients)
            line = f"    {n}. from <{tr.mail_from}> to {rcpts or '-'}"
            if tr.message is not None:
                subject = tr.message.headers.get("subject")
                line += f"; {tr.message.size} bytes"
                if subject:
                    line += f"; subject {subject!r}"
            if tr.last_reply:
                line += f"; last reply {tr.last_reply}"
            console.print(_t(line))
    _findings(console, session, brief)


def _findings(console: Console, session: Session, brief: bool) -> None:
    if session.findings:
        console.print(_t("  Findings", "bold"))
        for f in session.findings:
            text = Text("    ")
            text.append(f"[{f.severity}] ", style=_SEVERITY_STYLE.get(f.severity, ""))
            text.append(printable(f.title), style="bold")
            if f.detail:
                text.append(f" — {printable(f.detail)}")
            if f.frames:
                text.append(f" (frames {frame_ranges(f.frames)})", style="dim")
            console.print(text)
            if not brief:
                _indented(console, _t(f"{f.explanation} ({f.rfc})", "dim"))


def _step(console: Console, i: int, step: Step, brief: bool) -> None:
    line = Text()
    line.append(f"  {i:>2}. ", style="bold")
    line.append(printable(step.title), style="bold cyan" if not step.inside_tls else "bold magenta")
    if step.inside_tls:
        line.append(" (inside TLS)", style="magenta")
    line.append(f"  frames {frame_ranges(step.frames)}  +{step.time:.3f}s", style="dim")
    console.print(line)
    _indented(console, _t(step.summary))
    shown = step.lines if len(step.lines) <= _MAX_LINES + 1 else step.lines[:_MAX_LINES]
    for proto_line in shown:
        _indented(console, _t(proto_line, "green"))
    if len(shown) < len(step.lines):
        _indented(console, _t(f"… {len(step.lines) - len(shown)} more lines", "dim"))
    if step.reply is not None:
        _indented(console, _t(f"{step.reply.code}: {step.reply.meaning}", "dim"))
    if not brief:
        _indented(console, _t(step.explanation, "dim") + _t(f" ({step.rfc})", "dim"))


def _indented(console: Console, text: Text, indent: int = 6) -> None:
    # Wrap to what is left of the line and indent every wrapped line, without padding
    # lines with trailing blanks (rich's Padding does) that end up in files and pipes.
    for line in text.wrap(console, max(20, console.width - indent)):
        line.rstrip()
        console.print(Text(" " * indent) + line, soft_wrap=True)


def _extensions(console: Console, extensions: list[Extension] | None, brief: bool) -> None:
    for ext in extensions or []:
        line = Text("• ")
        line.append(printable(ext.keyword), style="bold")
        if ext.human:
            line.append(f" — {printable(ext.human)}")
        if not brief:
            line.append(f": {printable(ext.meaning)}", style="dim")
        _indented(console, line, 8)

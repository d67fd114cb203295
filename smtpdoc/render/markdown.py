"""`--format markdown`: a training handout with a Mermaid sequence diagram per session.

Capture text is escaped three ways: for Markdown prose and tables (`md`),
for fenced code blocks (a fence longer than any backtick run inside), and
for Mermaid, which has its own syntax (`mermaid`: only what Mermaid would read
as syntax or markup becomes a `#code;` entity: `#` `;` `<` `>` `&` `%` `"` and
backquote; a colon or a bracket stays as it is, so the Markdown source stays readable).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TextIO

from smtpdoc.model import Finding, Report, Session, Step
from smtpdoc.render import RenderOptions, register
from smtpdoc.render.common import LINE_BOUND, TEXT_BOUND, bounded, frame_ranges, printable
from smtpdoc.render.ladder import (
    BOTH,
    C2S,
    arrows,
    cut,
    extension_rows,
    offset,
    session_facts,
    tls_rows,
    transaction_rows,
)

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")
_BLOCK_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")
_MERMAID_UNSAFE = re.compile(r"[#;<>&%\"`{}]")


def md(value: object) -> str:
    """Capture or catalog text for Markdown prose and table cells: no markup, no raw HTML."""
    text = printable(value).replace("\n", " ").replace("\r", " ")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def para(value: object) -> str:
    """`md`, and a leading '#', '-', '1.' ... cannot turn the paragraph into a heading or a list."""
    return _BLOCK_START.sub(
        lambda m: m[1] + "\\" + m[2] if m[2][0] in "#>+=-" else m[1] + m[2][:-1] + "\\" + m[2][-1], md(value)
    )


def mermaid(value: object) -> str:
    """Text for a Mermaid message or note: unsafe characters become `#NNN;` entity codes."""
    text = printable(value).replace("\n", " ").replace("\r", " ")
    return _MERMAID_UNSAFE.sub(lambda m: f"#{ord(m.group())};", text)


def fence(lines: list[str]) -> str:
    body = "\n".join(printable(line) for line in lines)
    ticks = max((len(m) for m in re.findall(r"`+", body)), default=0)
    marker = "`" * max(3, ticks + 1)
    return f"{marker}text\n{body}\n{marker}"


def _table(out: TextIO, head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    out.write("| " + " | ".join(head) + " |\n")
    out.write("|" + "---|" * len(head) + "\n")
    for row in rows:
        out.write("| " + " | ".join(md(cell) for cell in row) + " |\n")
    out.write("\n")


@register("markdown", "md")
def render(report: Report, out: TextIO, options: RenderOptions) -> None:
    out.write(f"# SMTP walkthrough: {md(report.capture)}\n\n")
    out.write(f"Explained by smtpdoc with tshark {md(report.tshark_version)}.\n\n")
    out.write(f"## Step 0. {md(report.filter_title)}\n\n{para(report.filter_explanation)}\n\n")
    count = 0
    for session in report.sessions:
        count += 1
        _session(out, session)
    if report.findings:
        out.write("## Capture findings\n\n")
        _findings(out, report.findings)
    if count == 0 and not report.findings:
        out.write("No SMTP session found.\n")


def _session(out: TextIO, session: Session) -> None:
    out.write(f"## Session {session.index}: {md(session.client)} → {md(session.server)}\n\n")
    _table(out, ("", "Session"), session_facts(session))
    for note in session.notes:
        out.write(f"> {md(note)}\n\n")
    out.write("### Sequence diagram\n\n")
    _diagram(out, session)
    out.write("### Steps\n\n")
    for position, step in enumerate(session.steps, 1):
        _step(out, position, step)
    for title, extensions in (
        ("EHLO extensions", session.extensions),
        ("EHLO extensions inside TLS", session.inner_extensions or []),
    ):
        if extensions:
            out.write(f"### {title}\n\n")
            _table(out, ("Extension", "Parameters", "Meaning", "Reference"), extension_rows(extensions))
    if session.tls is not None:
        out.write("### TLS\n\n")
        _table(out, ("", "TLS"), tls_rows(session.tls))
    out.write("### Transactions\n\n")
    if session.transactions:
        head = ("#", "MAIL FROM", "RCPT TO (reply)", "Message", "Last reply", "TLS")
        _table(out, head, transaction_rows(session.transactions))
    else:
        out.write("No mail transaction in this session.\n\n")
    out.write("### Findings\n\n")
    if session.findings:
        _findings(out, session.findings)
    else:
        out.write("Nothing unusual was found in this session.\n\n")


def _diagram(out: TextIO, session: Session) -> None:
    out.write("```mermaid\nsequenceDiagram\n")
    out.write(f"    participant C as {mermaid(f'Client {session.client}')}\n")
    out.write(f"    participant S as {mermaid(f'Server {session.server}')}\n")
    in_tls = False
    for arrow in arrows(session):
        if arrow.inside_tls != in_tls:
            out.write("    rect rgba(128, 90, 200, 0.12)\n" if arrow.inside_tls else "    end\n")
            if arrow.inside_tls:
                out.write("    Note over C,S: inside TLS, decrypted with the session keys\n")
            in_tls = arrow.inside_tls
        parts = []
        if arrow.title:
            parts.append(mermaid(f"{arrow.title} ({offset(arrow.time)})"))
        if arrow.text:
            more = f" (+{arrow.more} more)" if arrow.more else ""
            parts.append(mermaid(cut(arrow.text) + more))
        elif not arrow.title:
            parts.append(mermaid(f"({offset(arrow.time)})"))
        if arrow.flagged:
            parts.append(mermaid(f"finding: {arrow.flagged}"))
        text = "<br/>".join(parts)
        if arrow.direction == BOTH:
            out.write(f"    Note over C,S: {text}\n")
        else:
            link = "->>" if not arrow.encrypted else "-->>"
            a, b = ("C", "S") if arrow.direction == C2S else ("S", "C")
            out.write(f"    {a}{link}{b}: {text}\n")
    if in_tls:
        out.write("    end\n")
    out.write("```\n\n")


def _step(out: TextIO, position: int, step: Step) -> None:
    where = " · inside TLS" if step.inside_tls else ""
    out.write(f"#### {position}. {md(step.title)}\n\n")
    out.write(f"*{offset(step.time)} · frames {frame_ranges(step.frames)}{where}*\n\n")
    out.write(f"{para(bounded(printable(step.summary), TEXT_BOUND))}\n\n")
    if step.lines:
        out.write(fence([bounded(printable(line), LINE_BOUND) for line in step.lines]) + "\n\n")
    if step.reply is not None and step.reply.meaning:
        out.write(f"Reply {step.reply.code}: {md(step.reply.meaning)}\n\n")
    out.write(f"> {md(step.explanation)} ({md(step.rfc)})\n\n")


def _findings(out: TextIO, findings: list[Finding]) -> None:
    for f in findings:
        detail = f": {md(f.detail)}" if f.detail else ""
        frames = f" (frames {frame_ranges(f.frames)})" if f.frames else ""
        out.write(f"- **{md(f.severity)}: {md(f.title)}**{detail}{frames}  \n")
        out.write(f"  {md(f.explanation)} ({md(f.rfc)})\n")
    out.write("\n")

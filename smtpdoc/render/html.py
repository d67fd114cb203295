"""`--format html`: one self-contained page per capture, for screens, phones and paper.

The page fetches nothing: CSS is inline and each session's sequence diagram
is inline SVG laid out by `smtpdoc.render.ladder` (no Mermaid, no script).
The template is rendered by Jinja2 with autoescaping on, so every string
from the capture reaches the page as text, never as markup; a
Content-Security-Policy that allows no script is a second fence.
"""

from __future__ import annotations

from functools import cache
from typing import TextIO

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from smtpdoc.model import Finding, Report, Session, Step
from smtpdoc.render import RenderOptions, register
from smtpdoc.render.common import frame_ranges, printable
from smtpdoc.render.ladder import cut, extension_rows, layout, offset, session_facts, tls_rows, transaction_rows


def step_findings(session: Session, step: Step) -> list[Finding]:
    frames = set(step.frames)
    return [f for f in session.findings if frames & set(f.frames)]


@cache
def _template() -> Template:
    env = Environment(
        loader=PackageLoader("smtpdoc.render", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["p"] = printable
    env.globals.update(
        cut=cut,
        frames=frame_ranges,
        layout=layout,
        offset=offset,
        session_facts=session_facts,
        tls_rows=tls_rows,
        extension_rows=extension_rows,
        transaction_rows=transaction_rows,
        step_findings=step_findings,
    )
    return env.get_template("report.html.j2")


@register("html", "htm")
def render(report: Report, out: TextIO, options: RenderOptions) -> None:
    # generate() streams: sessions are written as the lazy iterator yields them.
    for chunk in _template().generate(report=report):
        out.write(chunk)

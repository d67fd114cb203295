"""The lab's pages: worksheet and answers, in Markdown and HTML, from Jinja2 templates.

The HTML pages are self-contained (inline CSS, no script, a Content-Security-Policy that allows
none) and printable; Jinja2 autoescapes every value. The Markdown pages pass every value
through the Markdown renderer's escaping, so capture text never becomes markup.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from smtpdoc.lab.questions import Question
from smtpdoc.lab.view import View
from smtpdoc.render.common import frame_ranges, printable
from smtpdoc.render.markdown import md

KIND_HINTS = {
    "filter": "in quotes",
    "frames": 'e.g. [1, 2] or "1-3"',
    "frame": "a number",
    "number": "a number; a unit is optional",
    "name": "in quotes",
    "names": 'a list, e.g. ["A", "B"]',
    "code": "a number",
    "text": "in quotes; marked by your teacher",
}


@dataclass(frozen=True)
class LabPage:
    source: str  # the capture's file name
    capture: str  # the annotated copy in the lab folder
    keylog: str | None  # the key log copied into the lab folder
    decode_as: tuple[int, ...]  # ports Wireshark must be told are SMTP
    session: int
    stream: int
    sessions: int
    client: str
    server: str
    questions: list[Question]
    smtp_title: str

    @property
    def open_command(self) -> str:
        options = View(self.capture, self.keylog, self.decode_as).options()
        return " ".join(["wireshark", "-C", "smtpdoc", *options, "-r", self.capture])


def _code(value: object) -> str:
    """Text for a Markdown code span: backticks inside cannot close it early."""
    text = printable(value).replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if longest else f"{fence}{text}{fence}"


@cache
def _env(markdown: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("smtpdoc.lab", "templates"),
        autoescape=not markdown,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["p"] = printable
    env.filters["md"] = md
    env.filters["code"] = _code
    env.globals.update(frames=frame_ranges, hints=KIND_HINTS)
    return env


def render_page(name: str, page: LabPage) -> str:
    """worksheet.md, worksheet.html, answers.md or answers.html for `page`."""
    return _env(name.endswith(".md")).get_template(f"{name}.j2").render(lab=page)


def _comment(text: str) -> str:
    return " ".join(printable(text).split())


def answer_sheet(page: LabPage) -> str:
    """The blank answer sheet (TOML) that `smtpdoc lab check` reads once it is filled in."""
    lines = [
        f"# Answer sheet for the SMTP lab on {_comment(page.source)}.",
        "# Fill in every blank, keep the quotes for text, then: smtpdoc lab check LAB-FOLDER THIS-FILE",
        "",
    ]
    for question in page.questions:
        lines.append(f"[{question.key}]")
        lines.append(f"# {question.number}. {_comment(question.text)}")
        for part in question.parts:
            lines.append(f"# {part.name}: {_comment(part.prompt)} ({KIND_HINTS[part.kind]})")
            lines.append(f"{part.name} = {json.dumps('')}")
        lines.append("")
    return "\n".join(lines)

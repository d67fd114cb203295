"""`--format html`: one self-contained page per capture, for screens, phones and paper.

The page fetches nothing: CSS is inline and each session's sequence diagram
is inline SVG laid out by `smtpdoc.render.ladder` (a wide and a narrow one, CSS
shows the one that fits; no Mermaid, no script) and written by
`smtpdoc.render.html_ladder`. The templates are rendered by Jinja2 with
autoescaping on (markupsafe's escaping, through `smtpdoc.render.html_text`), and
the ladders pass every text through the same `escape`, so every string from the
capture reaches the page as text, never as markup; a Content-Security-Policy
that allows no script is a second fence.

A page with several sessions opens with an index of the sessions and their
findings. The sessions arrive one by one (they are not all kept in memory), so
their sections go to a spooled temporary file, as UTF-8, until the index can be
written.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, TextIO

from jinja2 import Environment, FileSystemBytecodeCache, FileSystemLoader, StrictUndefined, Template
from jinja2.bccache import Bucket

from smtpdoc import cache as user_cache
from smtpdoc.model import Finding, Report, Session, Step
from smtpdoc.render import RenderOptions, register
from smtpdoc.render.common import LINE_BOUND, TEXT_BOUND, frame_ranges, tls_label
from smtpdoc.render.html_ladder import ladders
from smtpdoc.render.html_text import fast_escaping, shown, shown_bounded
from smtpdoc.render.ladder import extension_rows, offset, session_facts, tls_rows, transaction_rows

_SPOOL = 8 * 1024 * 1024  # bytes of session sections kept in memory before the spool goes to disk


def step_findings(session: Session, step: Step) -> list[Finding]:
    frames = set(step.frames)
    return [f for f in session.findings if frames & set(f.frames)]


def numbered_steps(session: Session) -> list[tuple[int, Step, list[Finding]]]:
    """(position from 1, step, the findings whose frames touch it) for each step: one call per session."""
    return [(position, step, step_findings(session, step)) for position, step in enumerate(session.steps, 1)]


@dataclass(frozen=True, slots=True)
class IndexEntry:
    index: int
    client: str
    server: str
    tls: str
    messages: int
    findings: list[Finding] = field(default_factory=list)


class _CompiledTemplates(FileSystemBytecodeCache):
    """Jinja2's compiled templates, kept in smtpdoc's cache (compiling them cost a run 20-50 ms);
    best effort like the rest of that cache: one that cannot be written is compiled next time."""

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache() -> FileSystemBytecodeCache | None:
    folder = user_cache.path("jinja2")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return _CompiledTemplates(folder)


@cache
def _templates() -> dict[str, Template]:
    env = Environment(
        # the folder itself: PackageLoader spends some 20 ms finding it through importlib
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        bytecode_cache=_bytecode_cache(),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters["p"] = shown
    env.filters["pb"] = shown_bounded
    # filters rather than globals: Jinja2 calls a filter directly, a global through context.call
    env.filters["offset"] = offset
    env.filters["frames"] = frame_ranges
    env.globals.update(
        ladders=ladders,
        session_facts=session_facts,
        tls_rows=tls_rows,
        extension_rows=extension_rows,
        transaction_rows=transaction_rows,
        numbered_steps=numbered_steps,
        LINE_BOUND=LINE_BOUND,
        TEXT_BOUND=TEXT_BOUND,
    )
    templates = {name: env.get_template(f"{name}.html.j2") for name in ("page_head", "session", "index", "page_tail")}
    for template in templates.values():
        fast_escaping(template)
    return templates


@register("html", "htm")
def render(report: Report, out: TextIO, options: RenderOptions) -> None:
    templates = _templates()
    out.write(templates["page_head"].render(report=report))
    entries: list[IndexEntry] = []
    with tempfile.SpooledTemporaryFile(_SPOOL) as spool:  # bytes: a section is encoded once
        for session in report.sessions:
            messages = sum(1 for tr in session.transactions if tr.message is not None)
            entries.append(
                IndexEntry(
                    session.index, str(session.client), str(session.server), tls_label(session), messages,
                    list(session.findings),
                )
            )  # fmt: skip
            # one write per session: a write per template chunk cost more than the rendering
            spool.write(templates["session"].render(session=session).encode("utf-8"))
        if len(entries) > 1:
            out.write(templates["index"].render(entries=entries))
        spool.seek(0)
        _copy(spool, out)
    out.write(templates["page_tail"].render(report=report, count=len(entries)))


def _copy(spool: IO[bytes], out: TextIO) -> None:
    """The spooled sections onto `out`: as they are onto its bytes when it writes UTF-8 with
    newlines as they are (decoding them to encode them again cost a page of 1,000 sessions
    0.02-0.03 CPU-s), else decoded."""
    buffer = getattr(out, "buffer", None)
    if buffer is not None and os.linesep == "\n" and codecs.lookup(out.encoding or "ascii").name == "utf-8":
        out.flush()
        shutil.copyfileobj(spool, buffer)
    else:
        shutil.copyfileobj(codecs.getreader("utf-8")(spool), out)

"""`smtpdoc lab CAPTURE -o DIR`: explain the capture, ask about it, write the lab folder.

The folder gets the worksheet and the answers (Markdown and HTML), a blank answer sheet, the
machine-readable key that `smtpdoc lab check` marks against, the annotated capture (and the key
log, when one was given) so that students open the same view. Files are written into a scratch
folder inside DIR and moved into place at the end, so a failure leaves no half-written lab.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from smtpdoc.annotate import annotate_capture
from smtpdoc.errors import SmtpdocError
from smtpdoc.explain import Settings, explain_capture
from smtpdoc.lab.facts import subjects
from smtpdoc.lab.filters import choose_filter
from smtpdoc.lab.questions import Question, ask, pick
from smtpdoc.lab.render import LabPage, answer_sheet, render_page
from smtpdoc.lab.view import View
from smtpdoc.model import Session
from smtpdoc.tshark import Tshark

KEY_FILE = "key.json"
ANSWER_SHEET = "answer-sheet.toml"
SCHEMA = "smtpdoc-lab/1"
TSHARK_SMTP_PORTS = (25, 587, 465)  # what tshark decodes as SMTP (465: inside TLS) without -d
PAGES = ("worksheet.md", "worksheet.html", "answers.md", "answers.html")


class NothingToAsk(SmtpdocError):
    """The capture holds no SMTP session, so there is nothing to ask about."""

    exit_code = 10


@dataclass(frozen=True)
class Lab:
    directory: Path
    files: list[str]
    questions: list[Question]
    sessions: int
    native_filters: int  # questions whose key filter is a protocol filter, not frame.number in {...}
    warning: str | None = None
    cut_short: bool = False


def key_dict(page: LabPage) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "source": page.source,
        "capture": page.capture,
        "keylog": page.keylog,
        "decode_as": list(page.decode_as),
        "session": page.session,
        "stream": page.stream,
        "questions": [
            {
                "number": q.number,
                "key": q.key,
                "id": q.id,
                "about": q.about,
                "walkthrough": q.walkthrough,
                "text": q.text,
                "frames": q.frames,
                "filter": q.filter,
                "explanation": q.explanation,
                "where": q.where,
                "position": q.position,
                "parts": [
                    {
                        "name": p.name,
                        "prompt": p.prompt,
                        "kind": p.kind,
                        "expected": p.expected,
                        "shown": p.shown,
                        "accept": p.accept,
                        "unit": p.unit,
                        "precision": p.precision,
                    }
                    for p in q.parts
                ],
            }
            for q in page.questions
        ],
    }


def _show_filter(tshark: Tshark, view: View, question: Question) -> bool:
    """Find the question's display filter; False when it asks for a filter and no protocol filter fits."""
    question.filter, native = choose_filter(tshark, view, question.frames, question.filter_candidates)
    for part in question.parts:
        if part.kind == "filter":
            part.shown = question.filter
    return native or all(part.kind != "filter" for part in question.parts)


def make_lab(
    capture: str, directory: Path, tshark: Tshark, settings: Settings, count: int | None = None, seed: int = 0
) -> Lab:
    """Write the lab for `capture` into `directory` (created if needed)."""
    report, outcome = explain_capture(capture, tshark, settings)
    sessions = [s for s in report.sessions if s.steps and not any(f.name == "not_smtp" for f in s.findings)]
    if not sessions:
        raise NothingToAsk(f"'{capture}' holds no SMTP session, so there is nothing to ask about; nothing was written.")
    asked = ask(subjects(sessions[0], report.filter_title, report.filter_explanation, len(sessions)))
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    try:
        files, questions = _write(
            capture, directory, tshark, settings, sessions, asked, (count, seed), report.filter_title
        )
    except BaseException:
        if created and not any(directory.iterdir()):
            directory.rmdir()
        raise
    return Lab(
        directory=directory,
        files=files,
        questions=questions,
        sessions=len(sessions),
        native_filters=sum(not q.filter.startswith("frame.number") for q in questions),
        warning=outcome.warning,
        cut_short=outcome.cut_short,
    )


def _write(
    capture: str,
    directory: Path,
    tshark: Tshark,
    settings: Settings,
    sessions: list[Session],
    asked: list[Question],
    choice: tuple[int | None, int],
    smtp_title: str,
) -> tuple[list[str], list[Question]]:
    session = sessions[0]
    stem = Path(capture).stem
    decode_as = () if session.server.port in TSHARK_SMTP_PORTS else (session.server.port,)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".smtpdoc-lab-") as scratch:
        work = Path(scratch)
        annotated = work / f"{stem}-annotated.pcapng"
        annotate_capture(capture, str(annotated), tshark, replace(settings, progress=None))
        keylog_name = None
        if settings.keylog:
            keylog_name = f"{stem}.keylog"
            shutil.copyfile(settings.keylog, work / keylog_name)
        view = View(str(annotated), str(work / keylog_name) if keylog_name else None, decode_as)
        questions = pick([q for q in asked if _show_filter(tshark, view, q)], *choice)
        if not questions:
            raise NothingToAsk(f"smtpdoc found nothing to ask about in '{capture}'; nothing was written.")
        page = LabPage(
            source=Path(capture).name,
            capture=annotated.name,
            keylog=keylog_name,
            decode_as=decode_as,
            session=session.index,
            stream=session.stream,
            sessions=len(sessions),
            client=str(session.client),
            server=str(session.server),
            questions=questions,
            smtp_title=smtp_title,
        )
        for name in PAGES:
            (work / name).write_text(render_page(name, page), encoding="utf-8")
        (work / ANSWER_SHEET).write_text(answer_sheet(page), encoding="utf-8")
        (work / KEY_FILE).write_text(json.dumps(key_dict(page), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        files = sorted(p.name for p in work.iterdir())
        for name in files:
            os.replace(work / name, directory / name)
    return files, questions

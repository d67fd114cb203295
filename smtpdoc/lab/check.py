"""`smtpdoc lab check DIR answers.toml`: mark an answer sheet against the lab folder's key."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smtpdoc.errors import SmtpdocError
from smtpdoc.lab.build import KEY_FILE, SCHEMA
from smtpdoc.lab.marking import MISSING, RIGHT, TEACHER, Context, Mark, mark_sheet
from smtpdoc.lab.view import View
from smtpdoc.render.common import printable
from smtpdoc.tshark import Tshark


class LabInputError(SmtpdocError):
    """The lab folder or the answer sheet cannot be used (a usage error)."""

    exit_code = 2


@dataclass(frozen=True)
class Marked:
    marks: list[Mark]
    key: dict[str, Any]

    @property
    def marked(self) -> list[Mark]:
        return [m for m in self.marks if m.status != TEACHER]

    @property
    def right(self) -> int:
        return sum(m.status == RIGHT for m in self.marks)

    @property
    def misses(self) -> list[Mark]:
        return [m for m in self.marked if m.status != RIGHT]

    @property
    def for_teacher(self) -> list[Mark]:
        return [m for m in self.marks if m.status == TEACHER]


def read_key(directory: Path) -> dict[str, Any]:
    path = directory / KEY_FILE
    try:
        key = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabInputError(f"'{directory}' has no {KEY_FILE}: it is not a folder written by 'smtpdoc lab'.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabInputError(f"'{path}' cannot be read as a lab key: {exc}.") from None
    if not isinstance(key, dict) or key.get("schema") != SCHEMA or not isinstance(key.get("questions"), list):
        raise LabInputError(f"'{path}' is not a lab key of schema {SCHEMA}.")
    return key


def read_answers(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabInputError(f"the answer sheet '{path}' does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LabInputError(f"the answer sheet '{path}' cannot be read: {exc}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise LabInputError(f"the answer sheet '{path}' is not valid TOML: {exc}.") from None


def check_answers(directory: Path, answers_path: Path, tshark: Tshark) -> Marked:
    key = read_key(directory)
    answers = read_answers(answers_path)
    capture = directory / str(key.get("capture"))
    if not capture.is_file():
        raise LabInputError(f"the lab's capture '{capture}' is missing; filters cannot be judged without it.")
    keylog = directory / str(key["keylog"]) if key.get("keylog") else None
    decode_as = tuple(int(port) for port in key.get("decode_as", []))
    view = View(capture=str(capture), keylog=str(keylog) if keylog else None, decode_as=decode_as)
    context = Context(tshark=tshark, view=view)
    return Marked(marks=mark_sheet(key, answers, context), key=key)


def report_lines(result: Marked) -> list[str]:
    """What `smtpdoc lab check` prints: each blank's verdict, the right answer for each miss, the score."""
    lines: list[str] = []
    for mark in result.marks:
        label = f"q{mark.question}.{mark.part}"
        if mark.status == RIGHT:
            lines.append(f"  right   {label}")
        elif mark.status == TEACHER:
            continue
        else:
            verdict = "missing" if mark.status == MISSING else "wrong"
            given = "" if mark.status == MISSING else f" you wrote {mark.given!r};"
            note = f" ({mark.note})" if mark.note and mark.status != MISSING else ""
            lines.append(f"  {verdict:<8}{label}:{given} the answer is {mark.answer}{note}")
    total = len(result.marked)
    percent = round(100 * result.right / total) if total else 100
    lines.append(f"Score: {result.right}/{total} ({percent}%)")
    if result.for_teacher:
        lines.append(f"For the teacher ({len(result.for_teacher)} free-text answers, not marked):")
        questions = {q["number"]: q for q in result.key["questions"]}
        for mark in result.for_teacher:
            lines.append(f"  q{mark.question}.{mark.part}: {questions[mark.question]['text']}")
            lines.append(f"    answer: {mark.given or '(no answer)'}")
            lines.append(f"    model answer: {mark.answer}")
    return [printable(line) for line in lines]

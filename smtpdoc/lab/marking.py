"""Marking a student's answer sheet against the key `smtpdoc lab` wrote.

Rules, per kind of answer (the worksheet says which kind each blank is):
- frames / frame: the same set of frame numbers. A TOML integer or list, or text such as
  "1-3, 7", "1, 2, 3" or "1..3"; order and repeats do not matter.
- number: a number in the unit asked, or with a unit of its own (bytes, B, KiB, MiB, GiB; KB, MB
  and GB are decimal: 1 MB = 1,000,000 bytes). It is right when it is within half a unit of the
  last decimal asked of the true value: asked in MiB to one decimal, 35882577 bytes (34.2203
  MiB) is matched by "34.2", "34.22", "34.2 MiB", "35882577 bytes" and "35.9 MB", not by "34"
  or "34.3".
- name: the same text ignoring case, spaces, '-', '_', surrounding quotes or <...> and a trailing
  dot; some answers accept other spellings (TLSv1.3 for TLS 1.3).
- names: the same set of names, compared as for name (a TOML list, or text separated by commas);
  only the first word of each item counts ("SIZE 35882577" is SIZE), and bare numbers are skipped.
- code: the first three-digit number in the answer is the reply code ("220 2.0.0 Ready" is 220).
- filter: run in tshark on the lab's capture; right when it selects exactly the key's frames. A
  filter that does not compile is wrong.
- text: not marked; listed with the model answer for the teacher.
A blank left out or empty is a miss.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from smtpdoc.lab.filters import BadFilter, selected_frames
from smtpdoc.lab.view import View
from smtpdoc.render.common import frame_ranges
from smtpdoc.tshark import Tshark

RIGHT, WRONG, MISSING, TEACHER = "right", "wrong", "missing", "teacher"

_SIZE_UNITS = {
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "octet": 1,
    "octets": 1,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
}
_NUMBER = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")
_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
_RANGE = re.compile(r"^(\d+)-(\d+)$")
_CODE = re.compile(r"(?<!\d)([2-5]\d\d)(?!\d)")
_EPSILON = 1e-9


@dataclass(frozen=True)
class Mark:
    question: int
    part: str
    kind: str
    status: str  # right, wrong, missing, teacher
    given: str
    answer: str  # the key's answer, as printed
    note: str = ""  # why it is wrong


@dataclass(frozen=True)
class Context:
    tshark: Tshark
    view: View


def _frames(value: Any) -> list[int] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return [value]
    if isinstance(value, list):
        items = [_frames(v) for v in value]
        if any(item is None for item in items):
            return None
        return sorted({f for item in items if item is not None for f in item})
    if not isinstance(value, str):
        return None
    text = re.sub(r"(?i)\b(frames?|and)\b", ",", value)
    text = re.sub(r"\s*(?:-|\u2013|\.\.|\bto\b)\s*", "-", text.strip())
    frames: set[int] = set()
    for token in re.split(r"[,;\s]+", text):
        if not token:
            continue
        if token.isdigit():
            frames.add(int(token))
            continue
        match = _RANGE.match(token)
        if match is None or int(match[1]) > int(match[2]):
            return None
        frames.update(range(int(match[1]), int(match[2]) + 1))
    return sorted(frames) if frames else None


def _number(value: Any, unit: str) -> float | None:
    """The answer in `unit`, or None when it is not a number with a size unit."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    match = _NUMBER.match(value)
    if match is None:
        return None
    digits, given_unit = match[1], match[2].lower()
    if _THOUSANDS.match(digits):
        digits = digits.replace(",", "")
    elif re.fullmatch(r"\d+,\d+", digits):
        digits = digits.replace(",", ".")  # a decimal comma
    if "," in digits:
        return None
    if not given_unit:
        return float(digits)
    factor = _SIZE_UNITS.get(given_unit)
    if factor is None:
        return None
    return float(digits) * factor / _SIZE_UNITS[unit.lower()]


def normal_name(value: str) -> str:
    text = value.strip().strip("\"'").strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    return re.sub(r"[\s_\-]+", "", text).rstrip(".").casefold()


def _names(value: Any) -> set[str] | None:
    if isinstance(value, list):
        items = [str(v) for v in value]
    elif isinstance(value, str):
        items = [i for i in re.split(r"[,;\n]+", value) if i.strip()]
        if len(items) == 1 and len(items[0].split()) > 1:
            items = items[0].split()
    else:
        return None
    names = set()
    for item in items:
        words = item.split()
        if not words:
            continue
        if words[0].isdigit():
            continue
        names.add(normal_name(words[0]))
    return names


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def mark_part(question: dict[str, Any], part: dict[str, Any], given: Any, context: Context) -> Mark:
    """Mark one blank of one question of the key (both as key.json holds them)."""
    number, name, kind, answer = question["number"], part["name"], part["kind"], part["shown"]

    def result(status: str, note: str = "") -> Mark:
        return Mark(number, name, kind, status, "" if given is None else _shown(given), answer, note)

    if kind == "text":
        return result(TEACHER)
    if _blank(given):
        return result(MISSING, "no answer")
    expected = part["expected"]
    if kind in ("frames", "frame"):
        frames = _frames(given)
        if frames is None:
            return result(WRONG, "not frame numbers")
        return result(RIGHT) if frames == expected else result(WRONG)
    if kind == "number":
        value = _number(given, part["unit"])
        if value is None:
            return result(WRONG, f"not a number of {part['unit']} or bytes")
        tolerance = 0.5 * 10 ** -int(part["precision"]) + _EPSILON
        return result(RIGHT) if math.fabs(value - float(expected)) <= tolerance else result(WRONG)
    if kind == "name":
        if not isinstance(given, str | int):
            return result(WRONG, "not a name")
        accepted = {normal_name(a) for a in [expected, *part.get("accept", [])]}
        return result(RIGHT) if normal_name(str(given)) in accepted else result(WRONG)
    if kind == "names":
        names = _names(given)
        wanted = {normal_name(n) for n in expected}
        if names is None:
            return result(WRONG, "not a list of names")
        if names == wanted:
            return result(RIGHT)
        missing, extra = sorted(wanted - names), sorted(names - wanted)
        return result(WRONG, "; ".join(filter(None, [_count("missing", missing), _count("not in it", extra)])))
    if kind == "code":
        match = _CODE.search(str(given))
        if match is None:
            return result(WRONG, "no three-digit reply code")
        return result(RIGHT) if int(match[1]) == int(expected) else result(WRONG)
    if kind == "filter":
        if not isinstance(given, str):
            return result(WRONG, "not a display filter")
        try:
            frames = selected_frames(context.tshark, context.view, given)
        except BadFilter as exc:
            return result(WRONG, f"the filter does not compile: {exc}")
        if frames == expected:
            return result(RIGHT)
        return result(WRONG, f"it selects frames {frame_ranges(frames)} instead of {frame_ranges(expected)}")
    raise ValueError(f"unknown answer kind {kind!r}")


def _count(label: str, items: list[str]) -> str:
    return f"{len(items)} {label}" if items else ""


def given_value(answers: dict[str, Any], question: dict[str, Any], part: dict[str, Any]) -> Any:
    """The student's answer to one blank: `[qN] part = ...`, or `qN = ...` for a one-blank question."""
    entry = answers.get(question["key"])
    if isinstance(entry, dict):
        return entry.get(part["name"])
    if entry is not None and len(question["parts"]) == 1:
        return entry
    return None


def mark_sheet(key: dict[str, Any], answers: dict[str, Any], context: Context) -> list[Mark]:
    return [
        mark_part(question, part, given_value(answers, question, part), context)
        for question in key["questions"]
        for part in question["parts"]
    ]

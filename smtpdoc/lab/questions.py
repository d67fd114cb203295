"""Lab questions: the templates of catalog/questions.toml, filled from a session's facts.

`templates()` reads and checks the templates once; `ask()` turns those whose facts the
session has into questions with their answers; `pick()` chooses N of them, deterministically.
"""

from __future__ import annotations

import functools
import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from smtpdoc.catalog import CatalogError
from smtpdoc.catalog._tables import _int, _read, _rows, _str, _unique
from smtpdoc.lab.facts import Subject, known

KINDS = ("filter", "frames", "frame", "number", "name", "names", "code", "text")
UNITS = {"bytes": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


@dataclass(frozen=True)
class PartTemplate:
    name: str
    prompt: str
    kind: str
    fact: str | None
    model: str | None
    aliases: str | None
    base: str | None
    unit: str | None
    precision: int


@dataclass(frozen=True)
class QuestionTemplate:
    id: str
    about: str
    walkthrough: int | None
    text: str
    needs: tuple[str, ...]
    show: str
    filters: tuple[str, ...]
    parts: tuple[PartTemplate, ...]


@dataclass
class Part:
    """One blank of a question and its answer."""

    name: str
    prompt: str
    kind: str
    expected: Any  # frames: list[int]; number: float in `unit`; names: list[str]; text: model answer
    shown: str  # the answer as the key prints it
    accept: list[str] = field(default_factory=list)  # name: other accepted spellings
    unit: str | None = None
    precision: int = 0
    base_value: float | None = None  # number: the fact in its base unit


@dataclass
class Question:
    id: str
    number: int  # 1.. on the worksheet
    about: str
    walkthrough: int | None
    text: str
    parts: list[Part]
    frames: list[int]
    filter: str = ""  # set by the filter check (lab.build)
    filter_candidates: list[str] = field(default_factory=list)
    explanation: str = ""
    where: str = ""
    position: int | None = None

    @property
    def key(self) -> str:
        return f"q{self.number}"


def _optional_str(row: Mapping[str, Any], key: str, where: str) -> str | None:
    return _str(row, key, where) if key in row else None


def _part(row: Mapping[str, Any], where: str) -> PartTemplate:
    kind = _str(row, "kind", where)
    if kind not in KINDS:
        raise CatalogError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    part = PartTemplate(
        name=_str(row, "name", where),
        prompt=_str(row, "prompt", where),
        kind=kind,
        fact=_optional_str(row, "fact", where),
        model=_optional_str(row, "model", where),
        aliases=_optional_str(row, "aliases", where),
        base=_optional_str(row, "base", where),
        unit=_optional_str(row, "unit", where),
        precision=_int(row, "precision", where) if "precision" in row else 0,
    )
    if kind == "text" and part.model is None:
        raise CatalogError(f"{where}: a text part needs a 'model' answer")
    if kind != "text" and part.fact is None:
        raise CatalogError(f"{where}: a {kind} part needs the 'fact' that answers it")
    if kind == "number" and (part.unit not in UNITS or part.base not in UNITS):
        raise CatalogError(f"{where}: a number part needs 'base' and 'unit' among {', '.join(UNITS)}")
    return part


def _strings(row: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = row.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


@functools.cache
def templates() -> tuple[QuestionTemplate, ...]:
    """The question templates shipped in catalog/questions.toml (read and checked once)."""
    doc = _read("questions.toml")
    found: list[QuestionTemplate] = []
    for where, row in _rows(doc, "question", "questions.toml"):
        walkthrough = row.get("walkthrough")
        parts = tuple(_part(p, f"{where} part {i + 1}") for i, p in enumerate(row.get("part", [])))
        if not parts:
            raise CatalogError(f"{where}: a question needs at least one [[question.part]]")
        _unique([p.name for p in parts], f"part name in {where}")
        found.append(
            QuestionTemplate(
                id=_str(row, "id", where),
                about=_str(row, "about", where),
                walkthrough=walkthrough if isinstance(walkthrough, int) else None,
                text=_str(row, "text", where),
                needs=_strings(row, "needs", where),
                show=_str(row, "show", where),
                filters=_strings(row, "filters", where),
                parts=parts,
            )
        )
    _unique([t.id for t in found], "question id")
    return tuple(found)


class _Strict(dict[str, Any]):
    """Facts for str.format: an unknown fact is an error, not a silent '?'."""

    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


def fill(template: str, facts: Mapping[str, Any]) -> str:
    values = _Strict({k: _text(v) for k, v in facts.items() if known(v)})
    return string.Formatter().vformat(template, (), values)


def _text(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _needed(template: QuestionTemplate) -> set[str]:
    names = set(template.needs) | {template.show} | _placeholders(template.text)
    for part in template.parts:
        names |= {part.fact} if part.fact else set()
        names |= _placeholders(part.model or "")
    return names


def _answer(part: PartTemplate, facts: Mapping[str, Any]) -> Part:
    value: Any = facts.get(part.fact) if part.fact else None
    if part.kind == "text":
        assert part.model is not None
        model = fill(part.model, facts)
        return Part(part.name, part.prompt, part.kind, model, model)
    if part.kind in ("frames", "frame", "filter"):
        frames = sorted({int(v) for v in (value if isinstance(value, list) else [value])})
        return Part(part.name, part.prompt, part.kind, frames, ", ".join(map(str, frames)))
    if part.kind == "number":
        assert part.base is not None and part.unit is not None
        in_unit = float(value) * UNITS[part.base] / UNITS[part.unit]
        shown = f"{in_unit:.{part.precision}f} {part.unit} ({int(value):,} {part.base})"
        return Part(
            part.name,
            part.prompt,
            part.kind,
            in_unit,
            shown,
            unit=part.unit,
            precision=part.precision,
            base_value=float(value),
        )
    if part.kind == "names":
        names = [str(v) for v in value]
        return Part(part.name, part.prompt, part.kind, names, ", ".join(names))
    accept = [str(a) for a in facts.get(part.aliases, [])] if part.aliases else []
    return Part(part.name, part.prompt, part.kind, str(value), str(value), accept=accept)


def _template_for(subject_key: str, chosen: Sequence[QuestionTemplate]) -> list[QuestionTemplate]:
    exact = [t for t in chosen if t.about == subject_key]
    if exact or not subject_key.startswith("finding:"):
        return exact
    return [t for t in chosen if t.about == "finding:*"]


def ask(subjects: Mapping[str, Subject]) -> list[Question]:
    """Every question whose facts the subjects hold, in catalog order, numbered 1.."""
    questions: list[Question] = []
    all_templates = templates()
    for template in all_templates:
        if template.about == "finding:*":
            keys = [k for k in subjects if k.startswith("finding:") and _template_for(k, all_templates) == [template]]
        else:
            keys = [template.about] if template.about in subjects else []
        for key in keys:
            subject = subjects[key]
            facts = subject.facts
            if not all(known(facts.get(name)) for name in _needed(template)):
                continue
            shown = facts[template.show]
            questions.append(
                Question(
                    id=template.id if template.about != "finding:*" else f"{template.id}:{key.split(':', 1)[1]}",
                    number=len(questions) + 1,
                    about=key,
                    walkthrough=template.walkthrough,
                    text=fill(template.text, facts),
                    parts=[_answer(part, facts) for part in template.parts],
                    frames=sorted(set(shown if isinstance(shown, list) else [shown])),
                    filter_candidates=[fill(f, facts) for f in template.filters],
                    explanation=subject.explanation,
                    where=subject.where,
                    position=subject.position,
                )
            )
    return questions


def pick(questions: list[Question], count: int | None, seed: int) -> list[Question]:
    """`count` of the questions chosen by `seed` (all when None), in worksheet order, renumbered."""
    if count is not None and count < len(questions):
        keep = sorted(random.Random(seed).sample(range(len(questions)), count))
        questions = [questions[i] for i in keep]
    for number, question in enumerate(questions, 1):
        question.number = number
    return questions

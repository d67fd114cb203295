"""`--format json`: the documented, versioned schema (docs/json-schema.json).

Sessions are written one by one as they arrive, so a large capture never
sits in memory as one document.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Callable
from typing import Any, TextIO

from smtpdoc.model import Report, Session
from smtpdoc.render import RenderOptions, register

_FIELDS: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}


def _fields(value: Any) -> dict[str, Any]:
    """The json encoder's hook for what it cannot write itself: a model dataclass, one level deep.

    The encoder (C) then writes the dict and calls back for the dataclasses inside it, so
    only the model's objects cost a Python call, not every list, string and number in them
    (a third of what a Python walk of the whole session cost).
    """
    kind = type(value)
    known = _FIELDS.get(kind)
    if known is None:
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            raise TypeError(f"{kind.__name__} is not part of smtpdoc's model")
        names = tuple(f.name for f in dataclasses.fields(value))
        get: Callable[[Any], tuple[Any, ...]] = operator.attrgetter(*names)  # one C call for all fields
        if len(names) == 1:
            get = _one(names[0])
        known = _FIELDS[kind] = (names, get)
    names, get = known
    fields = dict(zip(names, get(value), strict=True))
    if kind is Session:
        fields["frame_steps"] = {str(k): v for k, v in sorted(value.frame_steps.items())}
    return fields


def _one(name: str) -> Callable[[Any], tuple[Any, ...]]:
    def get(value: Any) -> tuple[Any, ...]:
        return (getattr(value, name),)  # attrgetter of one name gives the value, not a tuple

    return get


def session_fields(session: Session) -> dict[str, Any]:
    """The session's top-level fields; `dumps` writes the model objects among their values."""
    return _fields(session)


# The model is a tree the builder made, so the encoder's check for cycles is skipped.
_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False, default=_fields)


def dumps(value: Any) -> str:
    """JSON text of model objects, lists, dicts and scalars, as docs/json-schema.json has them."""
    return _ENCODER.encode(value)


@register("json")
def render(report: Report, out: TextIO, options: RenderOptions) -> None:
    head = {"schema": report.schema, "capture": report.capture, "tshark_version": report.tshark_version}
    out.write("{\n")
    for key, value in head.items():
        out.write(f"  {json.dumps(key)}: {json.dumps(value)},\n")
    out.write(
        '  "walkthrough_filter": '
        + json.dumps({"title": report.filter_title, "explanation": report.filter_explanation})
        + ",\n"
    )
    out.write('  "sessions": [')
    first = True
    for session in report.sessions:
        out.write("\n    " if first else ",\n    ")
        out.write(dumps(session))
        first = False
    out.write("\n  ],\n" if not first else "],\n")
    out.write(f'  "findings": {dumps(report.findings)}\n')
    out.write("}\n")

"""`--format json`: the documented, versioned schema (docs/json-schema.json).

Sessions are written one by one as they arrive, so a large capture never
sits in memory as one document.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, TextIO

from smtpdoc.model import Report, Session
from smtpdoc.render import RenderOptions, register


def session_dict(session: Session) -> dict[str, Any]:
    data = dataclasses.asdict(session)
    data["frame_steps"] = {str(k): v for k, v in sorted(session.frame_steps.items())}
    return data


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
        out.write(json.dumps(session_dict(session), ensure_ascii=False))
        first = False
    out.write("\n  ],\n" if not first else "],\n")
    findings = [dataclasses.asdict(f) for f in report.findings]
    out.write(f'  "findings": {json.dumps(findings, ensure_ascii=False)}\n')
    out.write("}\n")

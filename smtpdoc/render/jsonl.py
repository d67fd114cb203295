"""`--format jsonl`: one JSON object per line, one line per session, each naming its capture.

Each line is the session as in `--format json` (docs/json-schema.json, `sessions[]`),
with `capture` and `schema` added in front. Lines are flushed as sessions finish, so
`smtpdoc watch --format jsonl` can feed another program while the capture runs.
Capture-level findings (no SMTP at all) have no session and so no line.
"""

from __future__ import annotations

from typing import TextIO

from smtpdoc.model import Report
from smtpdoc.render import RenderOptions, register
from smtpdoc.render.json import dumps, session_fields


@register("jsonl", "ndjson")
def render(report: Report, out: TextIO, options: RenderOptions) -> None:
    for session in report.sessions:
        line = {"capture": report.capture, "schema": report.schema, **session_fields(session)}
        out.write(dumps(line) + "\n")
        out.flush()

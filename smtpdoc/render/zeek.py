"""`--format zeek`: Zeek's smtp.log as tab-separated text, header lines included.

Same columns, types and escaping as Zeek's ASCII writer: tab separator, ',' inside
sets and vectors, `(empty)` for an empty string, `-` for a value smtpdoc does not
know (or never fills: Received: headers, file ids), bytes outside printable ASCII
and separators inside values as \\xNN.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, TextIO

from smtpdoc.model import Report
from smtpdoc.render import RenderOptions, register
from smtpdoc.render.rows import ZEEK_COLUMNS, transaction_rows

UNSET = "-"
EMPTY = "(empty)"
_UNSAFE = re.compile(r"[^\x21-\x7e ]|\\")


def _escape(text: str, in_set: bool) -> str:
    def one(match: re.Match[str]) -> str:
        char = match.group()
        if char == "\\":
            return "\\\\"
        return "".join(f"\\x{byte:02x}" for byte in char.encode("utf-8", "surrogateescape"))

    text = _UNSAFE.sub(one, text)
    if in_set:
        text = text.replace(",", "\\x2c")
    if text in (UNSET, EMPTY):  # a real value that looks like a marker
        text = "".join(f"\\x{ord(c):02x}" for c in text[:1]) + text[1:]
    return text


def field(value: Any, kind: str) -> str:
    """One value in Zeek's ASCII log syntax."""
    if value is None:
        return UNSET
    if isinstance(value, bool):
        return "T" if value else "F"
    if kind == "time":
        return f"{float(value):.6f}"
    if isinstance(value, list):
        if not value:
            return EMPTY
        return ",".join(_escape(str(item), in_set=True) for item in value)
    text = str(value)
    return _escape(text, in_set=False) if text else EMPTY


def _stamp() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%d-%H-%M-%S")


@register("zeek")
def render(report: Report, out: TextIO, options: RenderOptions) -> None:
    out.write("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tsmtp\n")
    out.write(f"#open\t{_stamp()}\n")
    out.write("#fields\t" + "\t".join(name for name, _ in ZEEK_COLUMNS) + "\n")
    out.write("#types\t" + "\t".join(kind for _, kind in ZEEK_COLUMNS) + "\n")
    for session in report.sessions:
        for row in transaction_rows(session):
            out.write("\t".join(field(row[name], kind) for name, kind in ZEEK_COLUMNS) + "\n")
    out.write(f"#close\t{_stamp()}\n")

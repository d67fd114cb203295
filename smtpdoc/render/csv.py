"""`--format csv`: one row per mail transaction, for spreadsheets and pandas.

Zeek's smtp.log columns (see `smtpdoc.render.rows`) with plain names, plus what
smtpdoc knows beyond them (session, reply code per recipient, size, frames).
Several values in one cell are joined with '; '. A cell that a spreadsheet would
take for a formula (starting with = + - @) gets a leading apostrophe.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from typing import Any, TextIO

from smtpdoc.model import Report
from smtpdoc.render import RenderOptions, register
from smtpdoc.render.common import printable
from smtpdoc.render.rows import transaction_rows

# (csv column, row key)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("session", "session"),
    ("tcp_stream", "tcp_stream"),
    ("time_utc", "ts"),
    ("client", "id.orig_h"),
    ("client_port", "id.orig_p"),
    ("server", "id.resp_h"),
    ("server_port", "id.resp_p"),
    ("transaction", "transaction"),
    ("trans_depth", "trans_depth"),
    ("helo", "helo"),
    ("mail_from", "mailfrom"),
    ("recipients", "rcptto"),
    ("recipient_codes", "recipient_codes"),
    ("method", "method"),
    ("message_size", "message_size"),
    ("date", "date"),
    ("from", "from"),
    ("to", "to"),
    ("cc", "cc"),
    ("reply_to", "reply_to"),
    ("msg_id", "msg_id"),
    ("in_reply_to", "in_reply_to"),
    ("subject", "subject"),
    ("user_agent", "user_agent"),
    ("x_originating_ip", "x_originating_ip"),
    ("last_reply", "last_reply"),
    ("tls", "tls"),
    ("tls_version", "tls_version"),
    ("certificate", "certificate"),
    ("frames", "frames"),
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any, key: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "ts":
        return datetime.fromtimestamp(float(value), tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, list):
        text = "; ".join("?" if item is None else str(item) for item in value)
    else:
        text = str(value)
    text = printable(text)
    return "'" + text if text.startswith(_FORMULA) and not isinstance(value, int | float) else text


@register("csv")
def render(report: Report, out: TextIO, options: RenderOptions) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in COLUMNS])
    for session in report.sessions:
        for row in transaction_rows(session):
            writer.writerow([cell(row[key], key) for _, key in COLUMNS])

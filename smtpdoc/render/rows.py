"""One row per mail transaction, shared by the csv and zeek renderers.

The columns follow Zeek's smtp.log (scripts/base/protocols/smtp/main.zeek), so that
people who read that log already know them. Values stay Python values here (None =
unknown, lists for Zeek's sets); each renderer writes them in its own syntax.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from smtpdoc.model import Session, Transaction

# (column, Zeek type) in Zeek's order.
ZEEK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("trans_depth", "count"),
    ("helo", "string"),
    ("mailfrom", "string"),
    ("rcptto", "set[string]"),
    ("date", "string"),
    ("from", "string"),
    ("to", "set[string]"),
    ("cc", "set[string]"),
    ("reply_to", "string"),
    ("msg_id", "string"),
    ("in_reply_to", "string"),
    ("subject", "string"),
    ("x_originating_ip", "addr"),
    ("first_received", "string"),
    ("second_received", "string"),
    ("last_reply", "string"),
    ("path", "vector[addr]"),
    ("user_agent", "string"),
    ("tls", "bool"),
    ("fuids", "vector[string]"),
)
# Columns smtpdoc does not fill (it keeps no Received: headers and extracts no files): always unset.
UNFILLED = frozenset({"first_received", "second_received", "path", "fuids"})
_HEADER_COLUMNS = {
    "date": "date",
    "from": "from",
    "reply_to": "reply_to",
    "msg_id": "message_id",
    "in_reply_to": "in_reply_to",
    "subject": "subject",
    "user_agent": "user_agent",
    "x_originating_ip": "x_originating_ip",
}
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def connection_uid(session: Session) -> str:
    """A stable Zeek-style uid ('C' + 17 base-62 characters) for the session's connection."""
    seed = f"{session.client}|{session.server}|{session.start:.6f}|{session.stream}".encode()
    number = int.from_bytes(hashlib.sha256(seed).digest()[:13], "big")
    chars = []
    for _ in range(17):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "C" + "".join(chars)


def _start_time(session: Session, tr: Transaction) -> float:
    """Epoch seconds of the transaction's first frame (the session's start when unknown)."""
    first = min(tr.frames) if tr.frames else None
    if first is not None:
        for step in session.steps:
            if first in step.frames:
                return session.start + step.time
    return session.start


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()] or None


def transaction_rows(session: Session) -> Iterator[dict[str, Any]]:
    """One dict per transaction, keyed by Zeek's column names (None: unset)."""
    uid = connection_uid(session)
    sent = 0  # Zeek's trans_depth: 1 + the messages transferred before, not a row count
    for number, tr in enumerate(session.transactions, 1):
        depth = sent + 1
        sent += tr.message is not None and tr.last_reply is not None  # Zeek counts on the reply to "."
        headers = tr.message.headers if tr.message is not None else {}
        row: dict[str, Any] = {column: None for column, _ in ZEEK_COLUMNS}
        row.update(
            {
                "ts": _start_time(session, tr),
                "uid": uid,
                "id.orig_h": session.client.address,
                "id.orig_p": session.client.port,
                "id.resp_h": session.server.address,
                "id.resp_p": session.server.port,
                "trans_depth": depth,
                "helo": tr.helo,
                "mailfrom": tr.mail_from,
                "rcptto": [r.address for r in tr.recipients] or None,
                "to": _split(headers.get("to")),
                "cc": _split(headers.get("cc")),
                "last_reply": tr.last_reply,
                "tls": tr.tls,
            }
        )
        for column, key in _HEADER_COLUMNS.items():
            row[column] = headers.get(key)
        # beyond Zeek's columns, for the csv export
        row["session"] = session.index
        row["transaction"] = number
        row["tcp_stream"] = session.stream
        row["recipient_codes"] = [r.code for r in tr.recipients]
        row["method"] = tr.method
        row["message_size"] = tr.message.size if tr.message is not None else None
        row["frames"] = tr.frames
        tls = session.tls
        chosen = (tls.server_hello or {}) if tls is not None else {}
        row["tls_version"] = chosen.get("version_name") if tr.tls else None
        row["certificate"] = (tls.certificate or {}).get("subject") if tls is not None and tr.tls else None
        yield row

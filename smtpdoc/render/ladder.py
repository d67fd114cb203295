"""Sequence (ladder) diagram layout shared by the Markdown and HTML renderers.

A session becomes a list of arrows between two lifelines, client and server,
in the order of the steps. A step gives one arrow per run of protocol lines
from the same side ("C: ..." then "S: ..."), so a command and its reply are
two arrows; a step without lines (TCP or TLS handshake, encrypted records,
close) is one arrow in its own direction, both ways for "both".

`layout` adds coordinates for an SVG of fixed width that scales with its
viewBox: a wide one (a time column on the left) and a narrow one for phones
(400 units, lanes near the edges, the time beside each title), so that at
400 px both lanes stay on screen at a readable size. The Mermaid renderer only
needs `arrows`. The tables both document
renderers show beside the diagram (session facts, TLS, extensions,
transactions) are built here too, as plain strings the renderers escape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from smtpdoc.model import Extension, Session, Step, TlsSummary, Transaction
from smtpdoc.render.common import TEXT_BOUND, bounded, printable

C2S = "c2s"
S2C = "s2c"
BOTH = "both"

WIDTH = 800
TIME_X = 8  # left edge of the time column
CLIENT_X = 160
SERVER_X = 716
HEAD_HEIGHT = 64
TITLE_GAP = 17  # from the top of an arrow row to the title baseline
TEXT_GAP = 15  # from the arrow line to the protocol text baseline
ROW_PAD = 10
MAX_LABEL = 70  # characters that fit between the lifelines at 12px
NARROW_WIDTH = 400
NARROW_CLIENT_X = 64
NARROW_SERVER_X = 336
NARROW_LABEL = 50  # characters that fit across the narrow diagram at 12px


@dataclass(slots=True)  # not frozen: a frozen dataclass is made 4-5 times slower, and a page makes thousands
class Arrow:
    step: int  # 1-based position of the step in session.steps
    direction: str  # C2S, S2C or BOTH
    title: str  # "5. Client asks for encryption (STARTTLS)" on a step's first arrow, else ""
    text: str  # a protocol line (mono) or, for lines-less steps, the summary
    mono: bool
    time: float
    inside_tls: bool
    encrypted: bool  # TLS records the reader cannot see into
    flagged: str  # the worst finding severity touching the arrow's step, or ""
    more: int = 0  # protocol lines of the same run not shown


@dataclass(slots=True)
class Row:
    arrow: Arrow
    title_y: int
    line_y: int
    text_y: int
    x1: int
    x2: int
    label: str  # text cut to fit, with an ellipsis
    title: str = ""  # the arrow's title as drawn (narrow: cut, with the time)

    def __post_init__(self) -> None:
        self.title = self.title or self.arrow.title


@dataclass(slots=True)
class Band:
    """A background band over consecutive rows inside TLS."""

    y: int
    height: int


@dataclass(slots=True)
class Layout:
    """Coordinates of one ladder; the narrow one puts each band's label above its first row."""

    width: int
    height: int
    client_x: int
    server_x: int
    time_x: int
    box_half: int = 74  # half the width of the Client/Server boxes at the top
    endpoint_chars: int = 22
    time_column: bool = True  # else the time follows each step title
    kind: str = "wide"
    rows: list[Row] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)


_SEVERITY_RANK = {"critical": 0, "warning": 1, "notice": 2, "info": 3}


def cut(text: str, limit: int = MAX_LABEL) -> str:
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def offset(seconds: float) -> str:
    """Time since the session started: '+13.4 ms' below a second, else '+2.085 s'."""
    return f"+{seconds * 1000:.1f} ms" if seconds < 1 else f"+{seconds:.3f} s"


def step_label(step: Step, position: int) -> str:
    return f"{position}. {step.title or step.name}"


def _flags(session: Session) -> dict[int, str]:
    """Step position → the worst severity of the findings whose frames touch the step."""
    worst: dict[int, str] = {}
    for finding in session.findings:
        frames = set(finding.frames)
        for position, step in enumerate(session.steps, 1):
            if frames & set(step.frames):
                old = worst.get(position)
                if old is None or _SEVERITY_RANK.get(finding.severity, 9) < _SEVERITY_RANK.get(old, 9):
                    worst[position] = finding.severity or "info"
    return worst


def _runs(lines: list[str]) -> list[tuple[str, list[str]]]:
    runs: list[tuple[str, list[str]]] = []
    for line in lines:
        side = C2S if line.startswith("C:") else S2C if line.startswith("S:") else ""
        text = line[2:].strip() if side else line.strip()
        if runs and (runs[-1][0] == side or not side):
            runs[-1][1].append(text)
        else:
            runs.append((side or C2S, [text]))
    return runs


_OWN_DIRECTION = {"client": C2S, "server": S2C}


def arrows(session: Session) -> list[Arrow]:
    flags = _flags(session)
    result: list[Arrow] = []
    for position, step in enumerate(session.steps, 1):
        title = step_label(step, position)
        flag = flags.get(position, "")
        encrypted = step.name in ("encrypted", "tls_handshake")
        own = _OWN_DIRECTION.get(step.direction, BOTH)
        runs = _runs(step.lines)
        if not runs:
            result.append(Arrow(position, own, title, step.summary, False, step.time, step.inside_tls, encrypted, flag))
            continue
        if own != BOTH and runs[0][0] != own:
            # e.g. the message step: the client sent the body, only the server's reply is a line
            result.append(Arrow(position, own, title, "", False, step.time, step.inside_tls, encrypted, flag))
            title = ""
        for side, texts in runs:
            time = (
                step.reply.time if side == S2C and step.reply is not None and step.direction != "server" else step.time
            )
            result.append(
                Arrow(position, side, title, texts[0], True, time, step.inside_tls, encrypted, flag, len(texts) - 1)
            )
            title = ""
    return result


def layout(session: Session, narrow: bool = False, drawn: list[Arrow] | None = None) -> Layout:
    """The ladder's coordinates; `drawn` is `arrows(session)` when the caller already has it."""
    if narrow:
        result = Layout(NARROW_WIDTH, 0, NARROW_CLIENT_X, NARROW_SERVER_X, 0, 60, 16, False, "narrow")
    else:
        result = Layout(width=WIDTH, height=0, client_x=CLIENT_X, server_x=SERVER_X, time_x=TIME_X)
    limit = NARROW_LABEL if narrow else MAX_LABEL
    y = HEAD_HEIGHT + 8
    band: Band | None = None
    for arrow in arrows(session) if drawn is None else drawn:
        top = y
        if narrow and arrow.inside_tls and band is None:
            y += 14  # room for the band's label above the first row inside TLS
        title_y = y + TITLE_GAP if arrow.title else y
        line_y = title_y + (9 if arrow.title else 12)
        text_y = line_y + TEXT_GAP if arrow.text else line_y
        y = text_y + ROW_PAD
        x1, x2 = (result.client_x, result.server_x)
        if arrow.direction == S2C:
            x1, x2 = x2, x1
        more = f" (+{arrow.more} more)" if arrow.more else ""
        label = cut(arrow.text, limit - len(more)) + more if arrow.text else ""
        row = Row(arrow, title_y, line_y, text_y, x1, x2, label)
        if narrow and arrow.title:
            row.title = cut(arrow.title, limit - 12) + f" · {offset(arrow.time)}"
        result.rows.append(row)
        if arrow.inside_tls:
            if band is None:
                band = Band(top, 0)
                result.bands.append(band)
            band.height = y - band.y
        else:
            band = None
    result.height = y + 12
    return result


# -- the tables both document renderers show next to the diagram ---------------------------------
def session_facts(session: Session) -> list[tuple[str, str]]:
    client = str(session.client) + (f" ({session.client_name})" if session.client_name else "")
    server = str(session.server) + (f" ({session.server_name})" if session.server_name else "")
    started = datetime.fromtimestamp(session.start, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    return [
        ("Client", client),
        ("Server", server),
        ("TCP stream", f"tcp.stream == {session.stream}"),
        ("Frames", f"{session.first_frame}-{session.last_frame}"),
        ("Started", started),
        ("Duration", f"{session.duration:.3f} s"),
    ]


def _join(values: object) -> str:
    if isinstance(values, list | tuple):
        return ", ".join(str(v) for v in values)
    return str(values)


def tls_rows(tls: TlsSummary) -> list[tuple[str, str]]:
    rows = [("Mode", "implicit TLS (the connection starts with TLS)" if tls.implicit else "STARTTLS upgrade")]
    hello = tls.client_hello or {}
    if hello:
        offered = _join(hello.get("version_names") or hello.get("versions") or []) or "?"
        parts = [f"versions {offered}", f"{hello.get('cipher_count', '?')} cipher suites"]
        parts.append(f"server name (SNI) {hello['sni']}" if hello.get("sni") else "no server name (SNI)")
        if hello.get("alpn"):
            parts.append(f"ALPN {_join(hello['alpn'])}")
        rows.append(("Client offered", "; ".join(parts)))
    chosen = tls.server_hello or {}
    if chosen:
        version = chosen.get("version_name") or chosen.get("version") or "?"
        cipher = chosen.get("cipher_name") or chosen.get("cipher") or "?"
        words = f" ({chosen['cipher_words']})" if chosen.get("cipher_words") else ""
        rows.append(("Server chose", f"{version}, {cipher}{words}"))
    cert = tls.certificate or {}
    if cert:
        rows.append(
            (
                "Certificate",
                f"subject {cert.get('subject', '?')}, issuer {cert.get('issuer', '?')}, "
                f"valid {cert.get('not_before', '?')} to {cert.get('not_after', '?')}",
            )
        )
    for alert in tls.alerts:
        level = {1: "warning", 2: "fatal"}.get(int(alert.get("level", 0)), "alert")
        name = alert.get("name") or alert.get("description")
        words = f": {alert['words']}" if alert.get("words") else ""
        rows.append(
            ("Alert", f"{level} {name} from the {alert.get('by', '?')} (frame {alert.get('frame', '?')}){words}")
        )
    rows.append(
        (
            "Records",
            f"client {tls.records.get('client', 0)} ({tls.bytes.get('client', 0)} bytes), "
            f"server {tls.records.get('server', 0)} ({tls.bytes.get('server', 0)} bytes)",
        )
    )
    rows.append(("Handshake", "completed" if tls.established else "not completed"))
    if tls.resumed:
        rows.append(("Resumed", "yes (session resumption)"))
    decrypted = "yes: the SMTP steps inside TLS are shown" if tls.decrypted else "no: the content stays hidden"
    rows.append(("Decrypted", decrypted))
    return rows


def extension_rows(extensions: list[Extension]) -> list[tuple[str, str, str, str]]:
    """(keyword, parameters in words, meaning, RFC) per extension."""
    return [(e.keyword, e.human or e.params, e.meaning, e.rfc) for e in extensions]


def transaction_rows(transactions: list[Transaction]) -> list[tuple[str, ...]]:
    """(n, from, to, message, last reply, TLS) per transaction."""
    rows: list[tuple[str, ...]] = []
    for n, tr in enumerate(transactions, 1):
        to = ", ".join(f"{r.address} ({r.code if r.code is not None else '?'})" for r in tr.recipients) or "-"
        message = tr.method or "-"
        if tr.message is not None:
            message += f", {tr.message.size} bytes"
            if tr.message.captured is not None:
                message += f" ({tr.message.captured} captured)"
            subject = tr.message.headers.get("subject")
            if subject:
                message += f", subject “{bounded(printable(subject), TEXT_BOUND)}”"
            if tr.message.attachments:
                message += ", attachments " + ", ".join(a.get("name", "?") for a in tr.message.attachments)
        rows.append((str(n), tr.mail_from or "<>", to, message, tr.last_reply or "-", "yes" if tr.tls else "no"))
    return rows

"""Explained frames → packet comments in a pcapng copy of the capture.

Every frame that belongs to a step of an SMTP session, or that a finding names, gets two
comments: the words (which step, what it means, any finding) for people, and a data token for
the smtpdoc Wireshark plugin (dissector/smtpdoc.lua), which reads it instead of re-deriving
anything:

    <DATA_PREAMBLE> smtpdoc-data/1 s=1 p=5.mail_from,6.rcpt_to f=warning.error_reply

`s` is the session (its index in `smtpdoc explain`), `p` every step the frame belongs to as
position.name in the order of the session (the position is the number the terminal prints),
`f` every finding that names the frame as severity.name. Wireshark lists every packet comment
in Expert Info and cuts the text there at 240 bytes, grouping equal texts into one line: the
fixed preamble, longer than that, makes all tokens one Expert Info line that says what they are.

Annotating an annotated capture replaces smtpdoc's own comments (the words start with
"smtpdoc step " or "smtpdoc finding ", the token with the preamble) and keeps everybody
else's; every other block is copied byte for byte (smtpdoc.pcapng).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from smtpdoc import pcapng
from smtpdoc.errors import CaptureUnreadable, OutputUnwritable, TsharkFailed, TsharkMissing
from smtpdoc.explain import Settings, explain_capture
from smtpdoc.model import Finding, Session, Step
from smtpdoc.render.common import printable
from smtpdoc.tshark import Tshark

PREFIX = "smtpdoc"
DATA_VERSION = 1
DATA_MARK = f"smtpdoc-data/{DATA_VERSION}"
DATA_PREAMBLE = (
    "smtpdoc data: the steps and findings of this frame for the smtpdoc Wireshark plugin, which shows them as "
    "smtpdoc.* fields, coloured rows and Expert Info. The words are in the frame's other smtpdoc comment. "
    "smtpdoc annotate writes both again on each run and keeps your own comments."
)
OWN_PREFIXES = (f"{PREFIX} step ", f"{PREFIX} finding ", DATA_PREAMBLE[:40])
DISPLAY_FILTER = f'frame.comment contains "{PREFIX} step"'
MAX_COMMENT = 60_000  # a pcapng option holds at most 65535 bytes
_UMBRELLA = "encrypted"  # spans the whole TLS part; a decrypted step inside it says more


@dataclass(frozen=True)
class Annotated:
    output: str
    sessions: int
    comments: dict[int, str]  # frame → the words
    tokens: dict[int, str]  # frame → the data token
    cut_short: bool = False  # the capture ends inside a packet: what could be read was annotated


def step_comment(position: int, step: Step) -> str:
    where = " (inside TLS)" if step.inside_tls else ""
    return f"{PREFIX} step {position} {step.name}{where}: {step.title}. {step.summary} {step.explanation} ({step.rfc})"


def finding_comment(finding: Finding) -> str:
    detail = f" ({finding.detail})" if finding.detail else ""
    return (
        f"{PREFIX} finding {finding.severity} {finding.name}: {finding.title}{detail}. "
        f"{finding.explanation} ({finding.rfc})"
    )


def data_token(session: int, steps: Sequence[tuple[int, str]], findings: Sequence[tuple[str, str]]) -> str:
    """The machine-readable comment: steps as (position, name), findings as (severity, name)."""
    parts = [DATA_PREAMBLE, DATA_MARK, f"s={session}"]
    if steps:
        parts.append("p=" + ",".join(f"{position}.{name}" for position, name in steps))
    if findings:
        parts.append("f=" + ",".join(f"{severity}.{name}" for severity, name in findings))
    return " ".join(parts)


def is_own(comment: str) -> bool:
    return comment.startswith(OWN_PREFIXES)


def _clean(text: str) -> str:
    text = printable(" ".join(text.split()))
    return text if len(text) <= MAX_COMMENT else text[: MAX_COMMENT - 1] + "…"


def session_comments(session: Session) -> tuple[dict[int, str], dict[int, str]]:
    """(frame → words, frame → data token) for every frame named by a step or a finding."""
    steps: dict[int, list[tuple[int, Step]]] = {}
    for position, step in enumerate(session.steps, 1):
        for frame in step.frames:
            steps.setdefault(frame, []).append((position, step))
    findings: dict[int, list[Finding]] = {}
    for finding in session.findings:
        for frame in finding.frames:
            findings.setdefault(frame, []).append(finding)
    words: dict[int, str] = {}
    tokens: dict[int, str] = {}
    for frame in sorted(steps.keys() | findings.keys()):
        claimed = steps.get(frame, [])
        specific = [(pos, step) for pos, step in claimed if step.name != _UMBRELLA] or claimed
        parts = [step_comment(pos, step) for pos, step in specific]
        parts += [finding_comment(f) for f in findings.get(frame, [])]
        words[frame] = _clean(" | ".join(parts))
        tokens[frame] = data_token(
            session.index,
            [(pos, step.name) for pos, step in claimed],
            [(f.severity, f.name) for f in findings.get(frame, [])],
        )
    return words, tokens


def frame_comments(sessions: Iterable[Session]) -> tuple[dict[int, str], dict[int, str], int]:
    words: dict[int, str] = {}
    tokens: dict[int, str] = {}
    count = 0
    for session in sessions:
        count += 1
        more_words, more_tokens = session_comments(session)
        words.update(more_words)
        tokens.update(more_tokens)
    return words, tokens, count


def tool_beside(tshark: Tshark, name: str) -> str:
    """A Wireshark command-line tool installed next to tshark (else on PATH)."""
    sibling = Path(tshark.path).with_name(name)
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return str(sibling)
    found = shutil.which(name)
    if found is None:
        raise TsharkMissing(f"{name} was not found next to '{tshark.path}' nor on PATH; it comes with tshark.")
    return found


def _as_pcapng(tshark: Tshark, capture: str, scratch: Path) -> str:
    """`capture` itself when it is pcapng, else a pcapng copy made by editcap."""
    try:
        with open(capture, "rb") as src:
            if pcapng.is_pcapng(src.read(4)):
                return capture
    except OSError as exc:
        raise CaptureUnreadable(f"cannot read '{capture}': {exc.strerror}") from None
    target = str(scratch / "as-pcapng.pcapng")
    editcap = tool_beside(tshark, "editcap")
    try:
        done = subprocess.run(
            [editcap, "-F", "pcapng", capture, target],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise TsharkFailed(f"editcap at '{editcap}' could not be run: {exc}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if "Running as user" not in line]
        raise TsharkFailed(f"editcap could not convert '{capture}' to pcapng: {lines[-1] if lines else 'no message'}")
    return target


def write_comments(
    tshark: Tshark, capture: str, output: str, comments: dict[int, list[str]]
) -> pcapng.Rewritten:
    """Write `output`: `capture` as pcapng, smtpdoc's old comments replaced by `comments`.

    The file appears only when complete (a temporary file in the same folder, renamed)."""
    out_dir = Path(output).resolve().parent
    if not out_dir.is_dir():
        raise OutputUnwritable(f"cannot write '{output}': the folder '{out_dir}' does not exist.")
    try:
        scratch_dir = tempfile.TemporaryDirectory(dir=out_dir, prefix=".smtpdoc-annotate-")
    except OSError as exc:
        raise OutputUnwritable(f"cannot write into '{out_dir}': {exc.strerror}.") from None
    with scratch_dir as scratch:
        source = _as_pcapng(tshark, capture, Path(scratch))
        target = Path(scratch) / "annotated.pcapng"
        try:
            with open(source, "rb") as src, open(target, "wb") as dst:
                written = pcapng.rewrite_comments(src, dst, comments, is_own)
            os.replace(target, output)
        except pcapng.PcapngError as exc:
            raise CaptureUnreadable(f"cannot annotate '{capture}': {exc}.") from None
        except OSError as exc:
            with contextlib.suppress(OSError):
                target.unlink()
            raise OutputUnwritable(f"cannot write '{output}': {exc.strerror}.") from None
    return written


def annotate_capture(capture: str, output: str, tshark: Tshark, settings: Settings) -> Annotated:
    """Explain `capture` and write `output`, a pcapng copy whose SMTP frames carry comments."""
    if not Path(output).resolve().parent.is_dir():
        raise OutputUnwritable(f"cannot write '{output}': the folder '{Path(output).resolve().parent}' does not exist.")
    report, outcome = explain_capture(capture, tshark, settings)
    words, tokens, count = frame_comments(report.sessions)
    comments = {frame: [text, tokens[frame]] for frame, text in words.items()}
    done = write_comments(tshark, capture, output, comments)
    return Annotated(
        output=output,
        sessions=count,
        comments={f: c for f, c in words.items() if f in done.frames},
        tokens={f: t for f, t in tokens.items() if f in done.frames},
        cut_short=done.cut_short or outcome.cut_short,
    )


def read_comments(tshark: Tshark, capture: str) -> dict[int, list[str]]:
    """Frame number → its packet comments, read back with tshark (`frame.comment`)."""
    args = [tshark.path, "-r", capture, "-Y", "frame.comment", "-T", "json"]
    args += ["-e", "frame.number", "-e", "frame.comment"]
    try:
        done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=3600, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise TsharkFailed(f"tshark at '{tshark.path}' could not be run: {exc}") from None
    if done.returncode != 0:
        raise TsharkFailed(f"tshark could not read the comments of '{capture}' (exit {done.returncode})")
    result: dict[int, list[str]] = {}
    for packet in json.loads(done.stdout.decode("utf-8", "replace") or "[]"):
        layers = packet["_source"]["layers"]
        result[int(layers["frame.number"][0])] = list(layers.get("frame.comment", []))
    return result

"""Explained frames → packet comments in a copy of the capture.

Every frame that belongs to a step of an SMTP session gets one comment:
which step it is, what the step means (the catalog's explanation) and any
finding that names the frame. Wireshark 4.0 shows it as `frame.comment`.

The comments are written by editcap (`-a <frame>:<comment>`, one per
frame; editcap keeps the last one given for a frame and adds it to any
comment the frame already had). A long capture needs more -a arguments than
one command line holds, so they go in batches, each pass reading the
previous pass's output.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from smtpdoc.errors import TsharkFailed, TsharkMissing
from smtpdoc.explain import Settings, explain_capture
from smtpdoc.model import Finding, Session, Step
from smtpdoc.render.common import printable
from smtpdoc.tshark import Tshark

PREFIX = "smtpdoc"
DISPLAY_FILTER = f'frame.comment contains "{PREFIX} step"'
COLUMN_FORMAT = "%Cus:frame.comment:0:R"
MAX_COMMENT = 60_000  # a pcapng option holds at most 65535 bytes
BATCH_BYTES = 256 * 1024  # well under ARG_MAX with the environment on top
BATCH_FRAMES = 5_000
_UNWRITABLE = "can't be written"
_UMBRELLA = "encrypted"  # spans the whole TLS part; a decrypted step inside it says more


@dataclass(frozen=True)
class Annotated:
    output: str
    sessions: int
    comments: dict[int, str]


def step_comment(session: Session, position: int, step: Step) -> str:
    where = " (inside TLS)" if step.inside_tls else ""
    return f"{PREFIX} step {position} {step.name}{where}: {step.title}. {step.summary} {step.explanation} ({step.rfc})"


def finding_comment(finding: Finding) -> str:
    detail = f" ({finding.detail})" if finding.detail else ""
    return (
        f"{PREFIX} finding {finding.severity} {finding.name}: {finding.title}{detail}. "
        f"{finding.explanation} ({finding.rfc})"
    )


def _clean(text: str) -> str:
    text = printable(" ".join(text.split()))
    return text if len(text) <= MAX_COMMENT else text[: MAX_COMMENT - 1] + "…"


def session_comments(session: Session) -> dict[int, str]:
    """Frame number → its comment, for every frame named by a step of the session."""
    steps: dict[int, list[tuple[int, Step]]] = {}
    for position, step in enumerate(session.steps, 1):
        for frame in step.frames:
            steps.setdefault(frame, []).append((position, step))
    findings: dict[int, list[Finding]] = {}
    for finding in session.findings:
        for frame in finding.frames:
            findings.setdefault(frame, []).append(finding)
    comments: dict[int, str] = {}
    for frame in sorted(steps.keys() | findings.keys()):
        claimed = steps.get(frame, [])
        specific = [(pos, step) for pos, step in claimed if step.name != _UMBRELLA] or claimed
        parts = [step_comment(session, pos, step) for pos, step in specific]
        parts += [finding_comment(f) for f in findings.get(frame, [])]
        comments[frame] = _clean(" | ".join(parts))
    return comments


def frame_comments(sessions: Iterable[Session]) -> tuple[dict[int, str], int]:
    comments: dict[int, str] = {}
    count = 0
    for session in sessions:
        count += 1
        comments.update(session_comments(session))
    return comments, count


def tool_beside(tshark: Tshark, name: str) -> str:
    """A Wireshark command-line tool installed next to tshark (else on PATH)."""
    sibling = Path(tshark.path).with_name(name)
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return str(sibling)
    found = shutil.which(name)
    if found is None:
        raise TsharkMissing(f"{name} was not found next to '{tshark.path}' nor on PATH; it comes with tshark.")
    return found


def _batches(comments: dict[int, str]) -> list[list[str]]:
    batches: list[list[str]] = [[]]
    size = 0
    for frame, comment in sorted(comments.items()):
        arg = f"{frame}:{comment}"
        if batches[-1] and (size + len(arg) > BATCH_BYTES or len(batches[-1]) >= 2 * BATCH_FRAMES):
            batches.append([])
            size = 0
        batches[-1] += ["-a", arg]
        size += len(arg) + 4
    return batches


def _run(args: list[str], tool: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=3600, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise TsharkFailed(f"{tool} at '{args[0]}' could not be run: {exc}") from None


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if "Running as user" not in line]
    return lines[-1] if lines else "no message"


def write_comments(editcap: str, capture: str, output: str, comments: dict[int, str], tshark: Tshark) -> None:
    """Copy `capture` to `output` (pcapng) with `comments` on their frames."""
    out_dir = Path(output).resolve().parent
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".smtpdoc-annotate-") as scratch:
        source = capture
        for n, batch in enumerate(_batches(comments)):
            target = str(Path(scratch) / f"pass{n}.pcapng")
            done = _run([editcap, "-F", "pcapng", *batch, source, target], "editcap")
            if done.returncode != 0 and n == 0 and _UNWRITABLE in done.stderr:
                # editcap 4.0 cannot copy a pcapng whose secrets block comes before the interface
                # block (what `editcap --inject-secrets` writes); tshark -w rewrites it in order.
                source = str(Path(scratch) / "in-order.pcapng")
                rewrite = _run([tshark.path, "-r", capture, "-F", "pcapng", "-w", source], "tshark")
                if rewrite.returncode != 0:
                    raise TsharkFailed(f"tshark could not rewrite '{capture}': {_last_line(rewrite.stderr)}")
                done = _run([editcap, "-F", "pcapng", *batch, source, target], "editcap")
            if done.returncode != 0:
                raise TsharkFailed(f"editcap failed on '{capture}' (exit {done.returncode}): {_last_line(done.stderr)}")
            source = target
        os.replace(source, output)


def annotate_capture(capture: str, output: str, tshark: Tshark, settings: Settings) -> Annotated:
    """Explain `capture` and write `output`, a pcapng copy whose SMTP frames carry comments."""
    editcap = tool_beside(tshark, "editcap")
    report, _outcome = explain_capture(capture, tshark, settings)
    comments, count = frame_comments(report.sessions)
    write_comments(editcap, capture, output, comments, tshark)
    return Annotated(output=output, sessions=count, comments=comments)


def read_comments(tshark: Tshark, capture: str) -> dict[int, list[str]]:
    """Frame number → its packet comments, read back with tshark (`frame.comment`)."""
    args = [
        tshark.path,
        "-r",
        capture,
        "-Y",
        "frame.comment",
        "-T",
        "json",
        "-e",
        "frame.number",
        "-e",
        "frame.comment",
    ]
    done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=3600, check=False)
    if done.returncode != 0:
        raise TsharkFailed(f"tshark could not read the comments of '{capture}' (exit {done.returncode})")
    result: dict[int, list[str]] = {}
    for packet in json.loads(done.stdout.decode("utf-8", "replace") or "[]"):
        layers = packet["_source"]["layers"]
        result[int(layers["frame.number"][0])] = list(layers.get("frame.comment", []))
    return result

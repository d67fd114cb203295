"""Explaining one capture into one renderer: the unit the CLI runs once per input.

`explain_one` waits for the first session (or the end of tshark's output) before
the renderer writes anything, so a file that is not a capture produces no report
text at all; a report file is written whole or not at all (`smtpdoc.outfile`).
It returns the exit code the capture deserves and the warnings to print; the CLI
prints them and exits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TextIO

from smtpdoc import render
from smtpdoc.errors import EXIT_CUT_SHORT, EXIT_FINDINGS, EXIT_OK, UsageProblem
from smtpdoc.explain import Settings, explain_capture
from smtpdoc.model import Report, Session
from smtpdoc.render import SEVERITIES, RenderOptions
from smtpdoc.tshark import Tshark


@dataclass
class Job:
    """What to do with each capture: how to render it, where, and what decides the exit code."""

    fmt: str
    options: RenderOptions
    output: Path | None = None
    min_severity: str | None = None
    fail_on: str | None = None


@dataclass
class Done:
    code: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Seen:
    """What the sessions held, gathered while the renderer consumes them."""

    sessions: int = 0
    tls: int = 0
    decrypted: int = 0
    severities: set[str] = field(default_factory=set)


def rank(severity: str) -> int:
    """0 for critical, 1 for warning, ...; unknown severities rank last."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _watch(sessions: Iterator[Session], report: Report, job: Job, seen: _Seen) -> Iterator[Session]:
    floor = rank(job.min_severity) if job.min_severity else len(SEVERITIES)
    for session in sessions:
        seen.sessions += 1
        if session.tls is not None:
            seen.tls += 1
            seen.decrypted += session.tls.decrypted
        if job.min_severity:
            session.findings = [f for f in session.findings if rank(f.severity) <= floor]
        seen.severities.update(f.severity for f in session.findings)
        yield session
    if job.min_severity:
        report.findings[:] = [f for f in report.findings if rank(f.severity) <= floor]
    seen.severities.update(f.severity for f in report.findings)


def explain_one(
    capture: str,
    tshark: Tshark,
    settings: Settings,
    job: Job,
    out: TextIO | None,
    prepare: Callable[[Report], None] | None = None,
) -> Done:
    """Explain `capture` into `job.output` (atomically) or `out`.

    `prepare(report)` runs just before the renderer (smtpdoc.batch relabels the report
    and tallies its sessions there).

    Raises SmtpdocError for what stops the capture being explained; when the capture
    itself is the problem, nothing has been written by then.
    """
    seen = _Seen()
    report, outcome = explain_capture(capture, tshark, settings)
    sessions = iter(report.sessions)
    first = next(sessions, None)  # tshark's complaint about the file surfaces here
    if first is None and settings.stream is not None:
        from smtpdoc.preflight import stream_exists

        if not stream_exists(capture, tshark, settings.stream):
            raise UsageProblem(f"'{capture}' has no TCP stream {settings.stream} (--stream counts from 0).")
    report.sessions = _watch(chain([first] if first is not None else [], sessions), report, job, seen)
    if prepare is not None:
        prepare(report)
    renderer = render.by_name(job.fmt)
    if job.output is not None:
        from smtpdoc.outfile import atomic_text

        with atomic_text(job.output) as handle:
            renderer(report, handle, job.options)
    else:
        assert out is not None
        renderer(report, out, job.options)
        out.flush()
    done = Done(EXIT_OK)
    if outcome.warning:
        done.warnings.append(outcome.warning)
    if settings.keylog and seen.decrypted == 0:
        why = "no TLS session in the capture" if seen.tls == 0 else f"none of its {seen.tls} TLS session(s) matched"
        done.warnings.append(f"warning: the key log '{settings.keylog}' decrypted nothing ({why}).")
    if outcome.cut_short:
        done.code = EXIT_CUT_SHORT
    elif job.fail_on and any(rank(s) <= rank(job.fail_on) for s in seen.severities):
        done.code = EXIT_FINDINGS
    return done

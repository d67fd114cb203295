"""Many captures at once: files, folders and stdin, one capture per worker, results in input order.

Theory of operation. The inputs are expanded first (a folder gives the captures under it,
`-` spools stdin to a temporary file, since explaining may take several tshark passes
over the same bytes). Each capture is then one job: `explain_one` runs the usual
explain pass and renders the report inside the worker, so what travels back to the
parent is text plus a small `CaptureSummary` (bench/batch.py measured this against
shipping the model's dataclasses back and rendering in the parent: see bench/README.md).
A job never raises: a capture tshark cannot read becomes a failed result with its
one-line message and exit code, and the others are still explained.

Two backends run the jobs: a `concurrent.futures` process pool (`--jobs N`), or a Dask
cluster (`--dask tcp://host:8786`, or `--dask local` for a LocalCluster on this machine).
Both yield results in input order, as soon as the next one in order is done.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, TextIO

from smtpdoc import job as one
from smtpdoc.errors import EXIT_CLUSTER, EXIT_CUT_SHORT, EXIT_INTERNAL, SmtpdocError, UsageProblem
from smtpdoc.explain import Settings
from smtpdoc.model import CaptureSummary, Report, Session
from smtpdoc.render import RenderOptions
from smtpdoc.tshark import Tshark, find_tshark

# What a folder contributes: the files tshark reads as captures (gzip-compressed ones too).
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz")
STDIN = "-"
STDIN_LABEL = "stdin"


class InputProblem(UsageProblem):
    """An input on the command line cannot be used (an empty folder, stdin twice, stdin a terminal)."""


class ClusterUnavailable(SmtpdocError):
    """The Dask cluster cannot be used: the extra is not installed, or the scheduler does not answer."""

    exit_code = EXIT_CLUSTER


@dataclass(frozen=True)
class CaptureInput:
    label: str  # what the reports call it: the path as given, or "stdin"
    path: str  # the file tshark reads


@dataclass(frozen=True)
class Job:
    """Everything a worker needs besides the capture; picklable."""

    settings: Settings
    fmt: str
    options: RenderOptions
    tshark: Tshark | None = None  # None: the worker finds its own (a remote Dask worker)
    tshark_path: str | None = None
    min_severity: str | None = None
    fail_on: str | None = None


@dataclass
class CaptureResult:
    label: str
    text: str
    summary: CaptureSummary
    exit_code: int = 0
    error: str | None = None  # one sentence when the capture could not be explained
    warnings: list[str] = field(default_factory=list)  # one sentence each (cut short, key log unused)


@dataclass
class Backend:
    """How to run the jobs: `jobs` worker processes, or a Dask scheduler address ("local" for a LocalCluster)."""

    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    dask: str | None = None


# -- inputs --------------------------------------------------------------------------------
def is_capture_name(path: Path) -> bool:
    return path.name.lower().endswith(CAPTURE_SUFFIXES)


def expand_inputs(arguments: Sequence[str]) -> list[str]:
    """Files as given, folders as the captures under them (sorted, recursive), `-` once."""
    expanded: list[str] = []
    for argument in arguments:
        if argument == STDIN:
            if STDIN in expanded:
                raise InputProblem("'-' (stdin) is given twice; stdin holds one capture.")
            expanded.append(STDIN)
            continue
        path = Path(argument)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and is_capture_name(p))
            if not found:
                suffixes = ", ".join(CAPTURE_SUFFIXES)
                raise InputProblem(f"the folder '{argument}' holds no capture (no file ending in {suffixes}).")
            expanded.extend(str(p) for p in found)
        else:
            expanded.append(argument)
    return expanded


@contextmanager
def spooled(arguments: Sequence[str], stdin: IO[bytes] | None = None) -> Iterator[list[CaptureInput]]:
    """The inputs, with stdin (if named) copied to a temporary file that is removed afterwards."""
    inputs: list[CaptureInput] = []
    spool: str | None = None
    try:
        for argument in expand_inputs(arguments):
            if argument != STDIN:
                inputs.append(CaptureInput(label=argument, path=argument))
                continue
            source = stdin if stdin is not None else sys.stdin.buffer
            if source.isatty():
                raise InputProblem("'-' reads a capture from stdin, but stdin is a terminal; pipe a capture in.")
            handle, spool = tempfile.mkstemp(prefix="smtpdoc-stdin-", suffix=".pcapng")
            with os.fdopen(handle, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            inputs.append(CaptureInput(label=STDIN_LABEL, path=spool))
        yield inputs
    finally:
        if spool is not None:
            with _ignored(OSError):
                os.unlink(spool)


@contextmanager
def _ignored(*kinds: type[BaseException]) -> Iterator[None]:
    try:
        yield
    except kinds:
        pass


# -- one capture: what each worker runs -----------------------------------------------------
@functools.cache
def _worker_tshark(explicit: str | None) -> Tshark:
    return find_tshark(explicit)


def explain_one(capture: CaptureInput, job: Job) -> CaptureResult:
    """Explain and render one capture; never raises for a bad capture (its result says why).

    The capture goes through the same `smtpdoc.job.explain_one` as a single capture, so
    --min-severity, --fail-on and the key log's warning hold for each one.
    """
    summary = CaptureSummary(capture=capture.label)
    seen: list[Report] = []

    def prepare(report: Report) -> None:
        report.capture = capture.label
        report.sessions = _tallied(report.sessions, summary)
        seen.append(report)

    try:
        tshark = job.tshark or _worker_tshark(job.tshark_path)
        if not os.path.exists(capture.path):
            raise InputProblem(f"'{capture.label}' does not exist on the machine that explains it ({_host()}).")
        out = io.StringIO()
        unit = one.Job(job.fmt, job.options, None, min_severity=job.min_severity, fail_on=job.fail_on)
        done = one.explain_one(capture.path, tshark, job.settings, unit, out, prepare=prepare)
        for report in seen:
            for finding in report.findings:
                summary.findings[finding.severity] = summary.findings.get(finding.severity, 0) + 1
    except SmtpdocError as exc:
        summary.status = "failed"
        summary.message = _relabel(str(exc), capture)
        return CaptureResult(capture.label, "", summary, exc.exit_code, error=summary.message)
    except Exception as exc:  # a bug in smtpdoc: reported for this capture, the others go on
        if os.environ.get("SMTPDOC_DEBUG"):
            raise
        summary.status = "failed"
        summary.message = (
            f"internal error on '{capture.label}': {type(exc).__name__}: {exc} "
            "(set SMTPDOC_DEBUG=1 for details, and please report it)"
        )
        return CaptureResult(capture.label, "", summary, EXIT_INTERNAL, error=summary.message)
    warnings = [_relabel(w, capture) for w in done.warnings]
    if done.code == EXIT_CUT_SHORT:
        summary.status = "cut short"
    summary.message = "; ".join(warnings)
    return CaptureResult(capture.label, out.getvalue(), summary, done.code, warnings=warnings)


def _tallied(sessions: Any, summary: CaptureSummary) -> Iterator[Session]:
    for session in sessions:
        summary.sessions += 1
        if session.tls is not None and session.tls.established:
            summary.tls += 1
        summary.messages += sum(1 for tr in session.transactions if tr.message is not None)
        for finding in session.findings:
            summary.findings[finding.severity] = summary.findings.get(finding.severity, 0) + 1
        yield session


def _relabel(text: str, capture: CaptureInput) -> str:
    """Messages name the capture as the user gave it, never the temporary spool file."""
    return text.replace(capture.path, capture.label) if capture.path != capture.label else text


def _host() -> str:
    return os.uname().nodename


# -- writing the results -------------------------------------------------------------------
_BETWEEN_CAPTURES = {"json": ",\n", "terminal": "\n", "markdown": "\n"}


def write_results(
    results: Iterable[CaptureResult],
    out: TextIO,
    job: Job,
    done: list[CaptureResult],
    problem: Callable[[str], None],
) -> None:
    """Write each capture's text as it comes (several JSON reports as one array), then the table.

    `done` collects the results (the caller's, so that it knows them after a Ctrl-C);
    each failure or warning goes to `problem` as one sentence.
    """
    from smtpdoc.render.captures import render_captures

    out.write("[\n" if job.fmt == "json" else "")
    for result in results:
        for message in [result.error] if result.error else result.warnings:
            problem(message)
        if result.text:
            if any(r.text for r in done):
                out.write(_BETWEEN_CAPTURES.get(job.fmt, ""))
            out.write(result.text)
            out.flush()
        done.append(result)
    out.write("]\n" if job.fmt == "json" else "")
    if job.fmt == "terminal":
        render_captures([r.summary for r in done], out, job.options)


# -- running the jobs ----------------------------------------------------------------------
def run(inputs: Sequence[CaptureInput], job: Job, backend: Backend) -> Generator[CaptureResult, None, None]:
    """One result per input, in input order, each as soon as it and those before it are done."""
    if backend.dask is not None:
        yield from _run_dask(inputs, job, backend)
    elif backend.jobs <= 1 or len(inputs) <= 1:
        for capture in inputs:
            yield explain_one(capture, job)
    else:
        yield from _run_pool(inputs, job, backend.jobs)


def _run_pool(inputs: Sequence[CaptureInput], job: Job, jobs: int) -> Iterator[CaptureResult]:
    from concurrent.futures import ProcessPoolExecutor

    from smtpdoc.catalog import load_catalog

    load_catalog()  # once here: forked workers inherit it
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(inputs)), initializer=_worker_start)
    try:
        futures = [pool.submit(explain_one, capture, job) for capture in inputs]
        for future in futures:
            yield future.result()
    except BaseException:
        # Ctrl-C (or a closed stdout): the workers ignore SIGINT, so stop them here, now.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _worker_start() -> None:
    # Ctrl-C is the parent's to handle: a worker must not die with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_dask(inputs: Sequence[CaptureInput], job: Job, backend: Backend) -> Iterator[CaptureResult]:
    import importlib

    try:
        distributed: Any = importlib.import_module("dask.distributed")  # the optional extra, untyped
    except ImportError:
        raise ClusterUnavailable(
            "--dask needs Dask distributed, which is not installed: pip install 'smtpdoc[cluster]'."
        ) from None
    address = backend.dask
    cluster: Any = None
    try:
        if address == "local":
            cluster = distributed.LocalCluster(
                n_workers=max(1, backend.jobs),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = distributed.Client(cluster)
        else:
            # A remote worker finds its own tshark; paths must be readable there (shared storage).
            job = replace(job, tshark=None)
            client = distributed.Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise ClusterUnavailable(f"cannot use the Dask cluster at '{address}': {exc}") from None
    try:
        futures = client.map(explain_one, list(inputs), job=job, pure=False)
        for future in futures:
            result: CaptureResult = future.result()
            yield result
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

"""smtpdoc explain (one capture, or many: smtpdoc.batch) and smtpdoc annotate."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from smtpdoc import render
from smtpdoc.errors import (
    EXIT_CUT_SHORT,
    SmtpdocError,
    UsageProblem,
)
from smtpdoc.render import SEVERITIES, RenderOptions

if TYPE_CHECKING:
    from smtpdoc.job import Job

from smtpdoc.cli.base import (
    _fail,
    _guarded,
    _progress,
    _tshark,
    choose_format,
    colour_wanted,
    main,
    report_stream,
)

EXAMPLES = """
\b
Examples:
  smtpdoc explain examples/starttls.pcapng
  smtpdoc explain examples/starttls.pcapng --brief
  smtpdoc explain capture.pcapng --format json -o report.json
  smtpdoc explain capture.pcapng --summary --fail-on warning
  smtpdoc explain capture.pcapng --stream 3 --keylog keys.txt
  smtpdoc explain archive/ a.pcap b.pcapng --jobs 2 --format jsonl
  tcpdump -i eth0 -w - 'tcp port 25' | smtpdoc explain -
"""


@main.command(epilog=EXAMPLES)
@click.argument("captures", nargs=-1, required=True, type=click.Path(exists=True, readable=True, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(render.names()),
    default=None,
    help="Output format (default: from -o's suffix, else terminal). csv and zeek: one row per mail transaction.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (whole, or not at all).")
@click.option("--stream", type=click.IntRange(min=0), help="Only this TCP stream (tcp.stream).")
@click.option("--keylog", type=click.Path(exists=True, dir_okay=False), help="TLS key log file for decryption.")
@click.option(
    "--decode-as", "decode_as", type=click.IntRange(1, 65535), multiple=True, help="Treat this TCP port as SMTP."
)
@click.option("--show-secrets", is_flag=True, help="Show AUTH credentials instead of [redacted].")
@click.option(
    "--color/--no-color", "colour", default=None, help="Colour (default: a terminal, unless NO_COLOR; FORCE_COLOR)."
)
@click.option("--tshark", "tshark_path", envvar="SMTPDOC_TSHARK", help="Path of the tshark binary.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar on stderr.")
@click.option("--brief", is_flag=True, help="Terminal output without the teaching text (steps, lines, findings).")
@click.option("--summary", is_flag=True, help="Terminal: only the table of sessions (one line each).")
@click.option("--findings-only", is_flag=True, help="Terminal: only each session's findings.")
@click.option(
    "--min-severity", type=click.Choice(SEVERITIES), help="Leave out findings less severe than this (every format)."
)
@click.option(
    "--fail-on", type=click.Choice(SEVERITIES), help="Exit 7 when a finding is at least this severe (for scripts)."
)
@click.option("--jobs", type=click.IntRange(min=1), help="Captures explained at once (default: the number of cores).")
@click.option("--dask", metavar="ADDRESS", help="Send the captures to a Dask cluster: tcp://HOST:8786, or 'local'.")
def explain(
    captures: tuple[str, ...],
    fmt: str | None,
    output: str | None,
    stream: int | None,
    keylog: str | None,
    decode_as: tuple[int, ...],
    show_secrets: bool,
    colour: bool | None,
    tshark_path: str | None,
    quiet: bool,
    brief: bool,
    summary: bool,
    findings_only: bool,
    min_severity: str | None,
    fail_on: str | None,
    jobs: int | None,
    dask: str | None,
) -> None:
    """Explain every SMTP session in each CAPTURE (pcap or pcapng; a folder: the captures in it; -: stdin)."""
    fmt = choose_format(fmt, output)
    target = Path(output) if output else None
    many = len(captures) > 1 or captures[0] == "-" or Path(captures[0]).is_dir() or bool(jobs) or bool(dask)
    if target is not None:
        if any(c != "-" and target.resolve() == Path(c).resolve() for c in captures):
            raise click.UsageError(f"-o '{output}' is the capture itself; choose another file for the report.")
        from smtpdoc.outfile import check_writable

        try:
            check_writable(target)
        except UsageProblem as exc:
            raise click.UsageError(str(exc)) from None
    if summary and findings_only:
        raise click.UsageError("--summary and --findings-only each choose what to print; give one of them.")
    if (summary or findings_only) and fmt != "terminal":
        flag = "--summary" if summary else "--findings-only"
        raise click.UsageError(f"{flag} shapes the terminal output; --format {fmt} writes every session in full.")
    if many and (summary or findings_only):
        flag = "--summary" if summary else "--findings-only"
        raise click.UsageError(f"{flag} shapes one capture's output; several captures end with their table anyway.")
    if many and fmt == "html" and (len(captures) > 1 or Path(captures[0]).is_dir()):
        raise click.UsageError("--format html writes one page per capture; give one capture, or use json, jsonl.")
    use_colour = target is None and colour_wanted(colour, dict(os.environ), sys.stdout.isatty())
    options = RenderOptions(
        colour=use_colour, show_secrets=show_secrets, brief=brief, summary_only=summary, findings_only=findings_only
    )
    from smtpdoc.job import Job

    job = Job(fmt, options, target, min_severity=min_severity, fail_on=fail_on)
    if show_secrets:
        click.echo("smtpdoc: warning: --show-secrets prints AUTH credentials in clear text.", err=True)
    if many:
        _explain_many(captures, job, stream, keylog, decode_as, tshark_path, jobs, dask)
    capture = captures[0]

    def work() -> int:
        from smtpdoc.explain import Settings
        from smtpdoc.job import explain_one

        settings = Settings(reveal_secrets=show_secrets, stream=stream, keylog=keylog, decode_as=decode_as)
        tshark = _tshark(tshark_path)
        bar = _progress(capture, tshark.path, quiet, to_stdout=target is None)
        settings.progress = bar
        with bar if bar is not None else contextlib.nullcontext(), report_stream() as out:
            done = explain_one(capture, tshark, settings, job, out)
        for warning in done.warnings:
            click.echo(f"smtpdoc: {warning}", err=True)
        return done.code

    sys.exit(_guarded(capture, work))


def _explain_many(
    captures: tuple[str, ...],
    unit: Job,
    stream: int | None,
    keylog: str | None,
    decode_as: tuple[int, ...],
    tshark_path: str | None,
    jobs: int | None,
    dask: str | None,
) -> NoReturn:
    """Several captures (or a folder, or stdin): a process pool or a Dask cluster, in input order."""
    from smtpdoc import batch
    from smtpdoc.errors import first_exit_code
    from smtpdoc.explain import Settings

    settings = Settings(reveal_secrets=unit.options.show_secrets, stream=stream, keylog=keylog, decode_as=decode_as)
    backend = batch.Backend(dask=dask) if jobs is None else batch.Backend(jobs=jobs, dask=dask)
    results: list[batch.CaptureResult] = []

    def work() -> int:
        with batch.spooled(captures) as inputs:
            job = batch.Job(
                settings,
                unit.fmt,
                unit.options,
                tshark=_tshark(tshark_path),
                tshark_path=tshark_path,
                min_severity=unit.min_severity,
                fail_on=unit.fail_on,
            )
            # closing(): on Ctrl-C the run stops its workers before the guard leaves at once.
            with contextlib.closing(batch.run(inputs, job, backend)) as running:
                if unit.output is None:
                    batch.write_results(running, sys.stdout, job, results, _problem)
                else:
                    from smtpdoc.outfile import atomic_text

                    with atomic_text(unit.output) as out:
                        batch.write_results(running, out, job, results, _problem)
        return first_exit_code(r.exit_code for r in results)

    def interrupted() -> str:
        return f"interrupted; {len(results)} capture(s) were explained before."

    sys.exit(_guarded(", ".join(captures), work, interrupted))


def _problem(message: str) -> None:
    click.echo(f"smtpdoc: {message}", err=True)


ANNOTATE_EXAMPLES = """
\b
Examples:
  smtpdoc annotate examples/starttls.pcapng -o starttls-annotated.pcapng
  smtpdoc annotate capture.pcap -o annotated.pcapng --keylog keys.txt
\b
Each annotated frame gets two comments: the explanation in words, and a short data
token that the smtpdoc Wireshark plugin reads (smtpdoc profile install). Annotating an
annotated capture again replaces smtpdoc's comments and keeps everybody else's.
"""


@main.command(epilog=ANNOTATE_EXAMPLES)
@click.argument("capture", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The annotated pcapng to write.")
@click.option("--keylog", type=click.Path(exists=True, dir_okay=False), help="TLS key log file for decryption.")
@click.option(
    "--decode-as", "decode_as", type=click.IntRange(1, 65535), multiple=True, help="Treat this TCP port as SMTP."
)
@click.option("--tshark", "tshark_path", envvar="SMTPDOC_TSHARK", help="Path of the tshark binary.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary line on stderr.")
def annotate(
    capture: str, output: str, keylog: str | None, decode_as: tuple[int, ...], tshark_path: str | None, quiet: bool
) -> None:
    """Write a copy of CAPTURE in which every SMTP frame carries its step and explanation as a packet comment."""
    from smtpdoc.annotate import annotate_capture
    from smtpdoc.explain import Settings
    from smtpdoc.outfile import check_writable

    if Path(output).resolve() == Path(capture).resolve():
        raise click.UsageError(f"-o '{output}' is the capture itself; choose another file for the annotated copy.")
    try:
        check_writable(Path(output))
    except UsageProblem as exc:
        raise click.UsageError(str(exc)) from None
    settings = Settings(keylog=keylog, decode_as=decode_as)
    try:
        tshark = _tshark(tshark_path)
        bar = _progress(capture, tshark.path, quiet, to_stdout=False)
        settings.progress = bar
        with bar if bar is not None else contextlib.nullcontext():
            done = annotate_capture(capture, output, tshark, settings)
    except SmtpdocError as exc:
        _fail(exc)
    if not quiet:
        if done.comments:
            click.echo(
                f"smtpdoc: wrote '{output}': {len(done.comments)} frames of {done.sessions} SMTP session(s) "
                "carry smtpdoc's comments.",
                err=True,
            )
        else:
            click.echo(f"smtpdoc: wrote '{output}': no SMTP session found, so no frame carries a comment.", err=True)
    if done.cut_short:
        click.echo(f"smtpdoc: '{capture}' is cut short; annotated what could be read.", err=True)
        sys.exit(EXIT_CUT_SHORT)

"""The command line: the only module that reads argv or the environment, or exits.

Exit codes (also in the README):
  0  explained (possibly with findings)
  1  internal error (a bug: one line on stderr; SMTPDOC_DEBUG=1 shows the traceback)
  2  usage error (bad option or argument, or an output file that cannot be written)
  3  tshark missing or older than 4.0
  4  the capture cannot be read (missing, empty of packets is fine, not a capture)
  5  the capture is cut short: what could be read was explained
  6  tshark failed unexpectedly
  8  watch: not permitted to capture on the interface
  9  --dask: the cluster cannot be used (extra not installed, scheduler not answering)
  10, 11  smtpdoc lab (see the README)
  12 `smtpdoc wireshark`: Wireshark cannot be opened (no wireshark binary, or no display)
With several captures: the code of the failed capture first in the order 2, 3, 4, 6, 1, 5.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import replace
from pathlib import Path

import click

from smtpdoc import __version__, render
from smtpdoc.annotate import annotate_capture
from smtpdoc.errors import SmtpdocError
from smtpdoc.explain import Settings, explain_capture
from smtpdoc.progress import CaptureProgress, capinfos_beside
from smtpdoc.render import RenderOptions
from smtpdoc.tshark import find_tshark

EXIT_CUT_SHORT = 5
EXIT_INTERNAL = 1

EXAMPLES = """
\b
Examples:
  smtpdoc explain examples/starttls.pcapng
  smtpdoc explain capture.pcapng --format json -o report.json
  smtpdoc explain capture.pcapng --stream 3 --keylog keys.txt
  smtpdoc explain archive/ a.pcap b.pcapng --jobs 2 --format jsonl
  tcpdump -i eth0 -w - 'tcp port 25' | smtpdoc explain -
"""


def _fail(exc: SmtpdocError) -> None:
    click.echo(f"smtpdoc: {exc}", err=True)
    sys.exit(exc.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smtpdoc")
def main() -> None:
    """Explain SMTP sessions in packet captures, step by step."""


@main.command(epilog=EXAMPLES)
@click.argument("captures", nargs=-1, required=True, type=click.Path(exists=True, readable=True, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["terminal", "json", "jsonl", "markdown", "html"]),
    default=None,
    help="Output format (default: from -o's extension, else terminal).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file.")
@click.option("--stream", type=click.IntRange(min=0), help="Only this TCP stream (tcp.stream).")
@click.option("--keylog", type=click.Path(exists=True, dir_okay=False), help="TLS key log file for decryption.")
@click.option(
    "--decode-as", "decode_as", type=click.IntRange(1, 65535), multiple=True, help="Treat this TCP port as SMTP."
)
@click.option("--show-secrets", is_flag=True, help="Show AUTH credentials instead of [redacted].")
@click.option("--color/--no-color", "colour", default=None, help="Colour (default: when stdout is a terminal).")
@click.option("--tshark", "tshark_path", envvar="SMTPDOC_TSHARK", help="Path of the tshark binary.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar on stderr.")
@click.option("--brief", is_flag=True, help="Terminal output without the teaching text (steps, lines, findings).")
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
    jobs: int | None,
    dask: str | None,
) -> None:
    """Explain every SMTP session in each CAPTURE (pcap or pcapng; a folder: the captures in it; -: stdin)."""
    if len(captures) > 1 or captures[0] == "-" or Path(captures[0]).is_dir() or jobs or dask:
        options = RenderOptions(show_secrets=show_secrets, brief=brief)
        settings = Settings(reveal_secrets=show_secrets, stream=stream, keylog=keylog, decode_as=decode_as)
        _explain_many(captures, fmt, output, settings, options, colour, tshark_path, jobs, dask)
        return
    capture = captures[0]
    if fmt is None and output:
        fmt = render.format_for_suffix(Path(output).suffix) or "terminal"
    fmt = fmt or "terminal"
    if show_secrets:
        click.echo("smtpdoc: warning: --show-secrets prints AUTH credentials in clear text.", err=True)
    settings = Settings(reveal_secrets=show_secrets, stream=stream, keylog=keylog, decode_as=decode_as)
    try:
        tshark = find_tshark(tshark_path)
        bar = _progress(capture, tshark.path, quiet, to_stdout=not output)
        settings.progress = bar
        report, outcome = explain_capture(capture, tshark, settings)
        renderer = render.by_name(fmt)
        with bar if bar is not None else contextlib.nullcontext():
            if output:
                with open(output, "w", encoding="utf-8") as out:
                    renderer(report, out, RenderOptions(colour=False, show_secrets=show_secrets, brief=brief))
            else:
                use_colour = sys.stdout.isatty() if colour is None else colour
                renderer(report, sys.stdout, RenderOptions(colour=use_colour, show_secrets=show_secrets, brief=brief))
    except SmtpdocError as exc:
        _fail(exc)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("smtpdoc: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("SMTPDOC_DEBUG"):
            raise
        click.echo(
            f"smtpdoc: internal error on '{capture}': {type(exc).__name__}: {exc} "
            "(set SMTPDOC_DEBUG=1 for details, and please report it)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    if outcome.warning:
        click.echo(f"smtpdoc: {outcome.warning}", err=True)
    if outcome.cut_short:
        sys.exit(EXIT_CUT_SHORT)


def _explain_many(
    captures: tuple[str, ...],
    fmt: str | None,
    output: str | None,
    settings: Settings,
    options: RenderOptions,
    colour: bool | None,
    tshark_path: str | None,
    jobs: int | None,
    dask: str | None,
) -> None:
    """Several captures (or a folder, or stdin): explained by a process pool or a Dask cluster, in input order."""
    from smtpdoc import batch

    if fmt is None and output:
        fmt = render.format_for_suffix(Path(output).suffix) or "terminal"
    fmt = fmt or "terminal"
    if fmt == "html" and (len(captures) > 1 or Path(captures[0]).is_dir()):
        raise click.UsageError("--format html writes one page per capture; give one capture, or use json, jsonl.")
    use_colour = not output and (sys.stdout.isatty() if colour is None else colour)
    options = replace(options, colour=use_colour)
    backend = batch.Backend(dask=dask) if jobs is None else batch.Backend(jobs=jobs, dask=dask)
    results: list[batch.CaptureResult] = []
    temporary = f"{output}.partial-{os.getpid()}" if output else None
    try:
        with batch.spooled(captures) as inputs:
            job = batch.Job(settings, fmt, options, tshark=find_tshark(tshark_path), tshark_path=tshark_path)
            with open(temporary, "w", encoding="utf-8") if temporary else contextlib.nullcontext(sys.stdout) as out:
                batch.write_results(batch.run(inputs, job, backend), out, job, results, _problem)
        if temporary and output:
            os.replace(temporary, output)
    except SmtpdocError as exc:
        _fail(exc)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo(f"smtpdoc: interrupted; {len(results)} capture(s) were explained before.", err=True)
        sys.exit(130)
    finally:
        if temporary:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
    sys.exit(batch.exit_code_of(results))


def _problem(message: str) -> None:
    click.echo(f"smtpdoc: {message}", err=True)


WATCH_EXAMPLES = """
\b
Examples:
  sudo smtpdoc watch -i eth0 -f 'tcp port 25'          # until Ctrl-C
  sudo smtpdoc watch -i lo -f 'tcp port 587' --duration 60 --format jsonl
  sudo smtpdoc watch -i eth0 -f 'tcp port 25' --keylog keys.txt --count 500
\b
Sessions are explained as they close (with --keylog: when the capture ends, decrypted).
Ctrl-C stops the capture and explains what was seen so far.
"""


@main.command(epilog=WATCH_EXAMPLES)
@click.option("-i", "--interface", required=True, help="Interface to capture on (as in tshark -D).")
@click.option("-f", "bpf", metavar="BPF", help="Capture filter, e.g. 'tcp port 25' (tcpdump syntax).")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), help="Stop after this many seconds.")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many packets (those -f lets through).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["terminal", "json", "jsonl", "markdown", "html"]),
    default=None,
    help="Output format (default: from -o's extension, else terminal).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file at the end.")
@click.option("--keylog", type=click.Path(exists=True, dir_okay=False), help="TLS key log file for decryption.")
@click.option(
    "--decode-as", "decode_as", type=click.IntRange(1, 65535), multiple=True, help="Treat this TCP port as SMTP."
)
@click.option("--show-secrets", is_flag=True, help="Show AUTH credentials instead of [redacted].")
@click.option("--color/--no-color", "colour", default=None, help="Colour (default: when stdout is a terminal).")
@click.option("--tshark", "tshark_path", envvar="SMTPDOC_TSHARK", help="Path of the tshark binary.")
@click.option("-q", "--quiet", is_flag=True, help="No 'capturing' line on stderr.")
@click.option("--brief", is_flag=True, help="Terminal output without the teaching text (steps, lines, findings).")
def watch(
    interface: str,
    bpf: str | None,
    duration: float | None,
    count: int | None,
    fmt: str | None,
    output: str | None,
    keylog: str | None,
    decode_as: tuple[int, ...],
    show_secrets: bool,
    colour: bool | None,
    tshark_path: str | None,
    quiet: bool,
    brief: bool,
) -> None:
    """Capture live traffic on an interface with tshark and explain each SMTP session as it closes."""
    from smtpdoc.live import LiveOptions, Watch

    if duration is not None and count is not None:
        raise click.UsageError("give --duration or --count, not both.")
    if fmt is None and output:
        fmt = render.format_for_suffix(Path(output).suffix) or "terminal"
    fmt = fmt or "terminal"
    settings = Settings(reveal_secrets=show_secrets, keylog=keylog, decode_as=decode_as)
    live = LiveOptions(interface=interface, bpf=bpf, duration=duration, count=count)
    until = f"for {duration:g} s" if duration else f"for {count} packets" if count else "until Ctrl-C"

    def ready() -> None:
        if not quiet:
            what = f"'{interface}'" + (f" ({bpf})" if bpf else "")
            click.echo(f"smtpdoc: capturing on {what} {until}.", err=True)

    use_colour = not output and (sys.stdout.isatty() if colour is None else colour)
    options = RenderOptions(colour=use_colour, show_secrets=show_secrets, brief=brief)
    temporary = f"{output}.partial-{os.getpid()}" if output else None
    try:
        tshark = find_tshark(tshark_path)
        with Watch(tshark, live, settings, on_ready=ready) as running:
            with open(temporary, "w", encoding="utf-8") if temporary else contextlib.nullcontext(sys.stdout) as out:
                render.by_name(fmt)(running.report, out, options)
        if temporary and output:
            os.replace(temporary, output)
    except SmtpdocError as exc:
        _fail(exc)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("smtpdoc: interrupted", err=True)
        sys.exit(130)
    finally:
        if temporary:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
    if running.outcome.warning:
        click.echo(f"smtpdoc: {running.outcome.warning}", err=True)
    if running.outcome.interrupted and not quiet:
        click.echo(f"smtpdoc: stopped by Ctrl-C; explained the {running.outcome.sessions} session(s) seen.", err=True)


# -- progress and annotate -------------------------------------------------------------------
def _progress(capture: str, tshark_path: str, quiet: bool, to_stdout: bool) -> CaptureProgress | None:
    """A progress bar on stderr when it is a terminal, not --quiet, and no report shares that terminal."""
    if quiet or not sys.stderr.isatty() or (to_stdout and sys.stdout.isatty()):
        return None
    return CaptureProgress(capture, sys.stderr, capinfos_beside(tshark_path))


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
    if Path(output).resolve() == Path(capture).resolve():
        raise click.UsageError(f"-o '{output}' is the capture itself; choose another file for the annotated copy.")
    settings = Settings(keylog=keylog, decode_as=decode_as)
    try:
        tshark = find_tshark(tshark_path)
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


WIRESHARK_EXAMPLES = """
\b
Examples:
  smtpdoc wireshark examples/starttls.pcapng
  smtpdoc wireshark capture.pcap --keylog keys.txt
\b
Exit code 12 when Wireshark cannot be opened (no wireshark binary, no display).
"""


@main.command("wireshark", epilog=WIRESHARK_EXAMPLES)
@click.argument("capture", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--keylog", type=click.Path(exists=True, dir_okay=False), help="TLS key log file for decryption.")
@click.option(
    "--decode-as", "decode_as", type=click.IntRange(1, 65535), multiple=True, help="Treat this TCP port as SMTP."
)
@click.option("--tshark", "tshark_path", envvar="SMTPDOC_TSHARK", help="Path of the tshark binary.")
@click.option("--wireshark", "wireshark_path", envvar="SMTPDOC_WIRESHARK", help="Path of the wireshark binary.")
def wireshark(
    capture: str, keylog: str | None, decode_as: tuple[int, ...], tshark_path: str | None, wireshark_path: str | None
) -> None:
    """Annotate CAPTURE into a temporary pcapng and open it in Wireshark with the smtpdoc profile.

    Installs the profile and the plugin first when they are missing or out of date.
    """
    from smtpdoc.wireshark.launch import open_in_wireshark

    settings = Settings(keylog=keylog, decode_as=decode_as)
    try:
        tshark = find_tshark(tshark_path)
        code = open_in_wireshark(
            capture, tshark, settings, dict(os.environ), Path.home(), wireshark_path, _say
        )
    except SmtpdocError as exc:
        _fail(exc)
    sys.exit(code)


def _say(message: str) -> None:
    click.echo(f"smtpdoc: {message}", err=True)


# -- smtpdoc profile: the Wireshark side (smtpdoc.wireshark) --------------------------------------------------
PROFILE_EXAMPLES = """
\b
Examples:
  smtpdoc profile build ./smtpdoc-profile
  smtpdoc profile install            # then: wireshark -C smtpdoc examples/starttls.pcapng
  smtpdoc profile uninstall
"""


@main.group(epilog=PROFILE_EXAMPLES)
def profile() -> None:
    """The smtpdoc Wireshark profile (colours, buttons, columns) and its Lua post-dissector."""


@profile.command("build")
@click.argument("directory", type=click.Path(file_okay=False, writable=True))
def profile_build(directory: str) -> None:
    """Write the Wireshark configuration profile into DIRECTORY."""
    from smtpdoc.wireshark.profile import build_profile

    try:
        written = build_profile(Path(directory))
    except SmtpdocError as exc:
        _fail(exc)
    click.echo(f"smtpdoc: wrote {len(written)} profile files into '{directory}'.")


@profile.command("install")
@click.option("--name", default="smtpdoc", show_default=True, help="Profile name in Wireshark.")
def profile_install(name: str) -> None:
    """Install the profile and the Lua plugin into your personal Wireshark configuration.

    Honours WIRESHARK_CONFIG_DIR and XDG_CONFIG_HOME, as Wireshark does.
    """
    import os

    from smtpdoc.wireshark.install import install, personal_config_dir, personal_plugin_dir

    env, home = dict(os.environ), Path.home()
    try:
        done = install(personal_config_dir(env, home), personal_plugin_dir(env, home), name)
    except SmtpdocError as exc:
        _fail(exc)
    click.echo(f"smtpdoc: profile '{name}' installed in '{done.profile}'.")
    click.echo(f"smtpdoc: Lua plugin installed as '{done.plugin}'.")
    click.echo(f"smtpdoc: open a capture with: wireshark -C {name} CAPTURE")


@profile.command("uninstall")
@click.option("--name", default="smtpdoc", show_default=True, help="Profile name in Wireshark.")
def profile_uninstall(name: str) -> None:
    """Remove exactly what `smtpdoc profile install` wrote."""
    import os

    from smtpdoc.wireshark.install import personal_config_dir, uninstall

    try:
        removed = uninstall(personal_config_dir(dict(os.environ), Path.home()), name)
    except SmtpdocError as exc:
        _fail(exc)
    for path in removed:
        click.echo(f"smtpdoc: removed '{path}'.")


# -- smtpdoc lab: worksheets from captures (smtpdoc.lab) --------------------------------------------------------
EXIT_NOT_FULL_MARKS = 11  # smtpdoc lab check: some definite answers are wrong or missing

LAB_EXAMPLES = """
\b
Examples:
  smtpdoc lab examples/starttls.pcapng -o lab --keylog examples/starttls.keylog
  smtpdoc lab capture.pcapng -o lab --questions 6 --seed 3
  smtpdoc lab check lab answer-sheet.toml
\b
Exit codes of 'lab': 0 written, 10 no SMTP session (nothing written), else as for explain.
Exit codes of 'lab check': 0 every marked answer right, 11 some wrong or missing,
2 the folder or the answer sheet cannot be used, 3 tshark missing.
"""


def _lab_bug(exc: Exception, what: str) -> None:
    if os.environ.get("SMTPDOC_DEBUG"):
        raise exc
    click.echo(
        f"smtpdoc: internal error on '{what}': {type(exc).__name__}: {exc} "
        "(set SMTPDOC_DEBUG=1 for details, and please report it)",
        err=True,
    )
    sys.exit(EXIT_INTERNAL)


class _LabGroup(click.Group):
    """`smtpdoc lab CAPTURE ...` makes a lab; `smtpdoc lab check ...` marks one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["make", *args]
        return super().parse_args(ctx, args)


@main.group(cls=_LabGroup, epilog=LAB_EXAMPLES)
def lab() -> None:
    """A lab from a capture: worksheet, answers and the annotated capture; or mark an answer sheet.

    smtpdoc lab CAPTURE -o DIR writes worksheet.md/.html, answers.md/.html, a blank
    answer-sheet.toml, the key (key.json) and the annotated capture into DIR.
    """


@lab.command("make", epilog=LAB_EXAMPLES)
@click.argument("capture", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("-o", "--output", "directory", required=True, type=click.Path(file_okay=False), help="The lab folder.")
@click.option("--keylog", type=click.Path(exists=True, dir_okay=False), help="TLS key log file for decryption.")
@click.option("--questions", "count", type=click.IntRange(min=1), help="Ask this many questions (default: all).")
@click.option("--seed", type=int, default=0, show_default=True, help="Which questions --questions picks.")
@click.option("--tshark", "tshark_path", envvar="SMTPDOC_TSHARK", help="Path of the tshark binary.")
def lab_make(
    capture: str, directory: str, keylog: str | None, count: int | None, seed: int, tshark_path: str | None
) -> None:
    """Write a lab about CAPTURE into DIR (the default command of `smtpdoc lab`)."""
    from smtpdoc.lab.build import make_lab

    try:
        done = make_lab(capture, Path(directory), find_tshark(tshark_path), Settings(keylog=keylog), count, seed)
    except SmtpdocError as exc:
        _fail(exc)
    except Exception as exc:
        _lab_bug(exc, capture)
    if done.warning:
        click.echo(f"smtpdoc: {done.warning}", err=True)
    click.echo(f"smtpdoc: wrote a lab of {len(done.questions)} questions into '{directory}': {', '.join(done.files)}.")
    if done.sessions > 1:
        click.echo(f"smtpdoc: the capture has {done.sessions} SMTP sessions; the questions are about the first.")
    if done.cut_short:
        sys.exit(EXIT_CUT_SHORT)


@lab.command("check", epilog=LAB_EXAMPLES)
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.argument("answers", type=click.Path(exists=True, dir_okay=False))
@click.option("--tshark", "tshark_path", envvar="SMTPDOC_TSHARK", help="Path of the tshark binary.")
def lab_check(directory: str, answers: str, tshark_path: str | None) -> None:
    """Mark the answer sheet ANSWERS against the key of the lab in DIRECTORY and print the score."""
    from smtpdoc.lab.check import check_answers, report_lines

    try:
        result = check_answers(Path(directory), Path(answers), find_tshark(tshark_path))
    except SmtpdocError as exc:
        _fail(exc)
    except Exception as exc:
        _lab_bug(exc, answers)
    for line in report_lines(result):
        click.echo(line)
    if result.misses:
        sys.exit(EXIT_NOT_FULL_MARKS)

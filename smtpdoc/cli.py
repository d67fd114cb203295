"""The command line: the only module that reads argv or the environment, or exits.

Exit codes (also in the README; smtpdoc.errors holds them and their precedence):
  0    explained (findings change the code only under --fail-on)
  1    internal error (a bug: one line on stderr; SMTPDOC_DEBUG=1 shows the traceback)
  2    usage error (bad option or argument, missing file or folder, an output that cannot be
       written, no such --stream)
  3    tshark missing or older than 4.0
  4    the file is not a capture tshark can read
  5    the capture is cut short: what could be read was explained
  6    tshark failed unexpectedly
  7    --fail-on: a finding at or above that severity
  10, 11  smtpdoc lab (see the README)
  12   `smtpdoc wireshark`: Wireshark cannot be opened (no wireshark binary, or no display)
  130  interrupted (Ctrl-C); no partial output file is left
  141  stdout was closed by its reader (`| head`); nothing more is printed
Every error is found before any report text is written, wherever that can be known.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from smtpdoc import __version__, render
from smtpdoc.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_CUT_SHORT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    SmtpdocError,
    UsageProblem,
)
from smtpdoc.render import SEVERITIES, RenderOptions

if TYPE_CHECKING:
    from smtpdoc.progress import CaptureProgress
    from smtpdoc.tshark import Tshark

EXAMPLES = """
\b
Examples:
  smtpdoc explain examples/starttls.pcapng
  smtpdoc explain examples/starttls.pcapng --brief
  smtpdoc explain capture.pcapng --format json -o report.json
  smtpdoc explain capture.pcapng --summary --fail-on warning
  smtpdoc explain capture.pcapng --stream 3 --keylog keys.txt
"""


def _fail(exc: SmtpdocError) -> NoReturn:
    click.echo(f"smtpdoc: {exc}", err=True)
    sys.exit(exc.exit_code)


def _quiet_exit(code: int, message: str | None = None) -> NoReturn:
    """Leave at once: used on Ctrl-C and a closed stdout, where Python's own shutdown would
    print more (a flush error on the dead pipe, generators finalised mid-read)."""
    if message:
        with contextlib.suppress(OSError):
            sys.stderr.write(f"smtpdoc: {message}\n")
            sys.stderr.flush()
    os._exit(code)


class _Cli(click.Group):
    """click, with its usage errors as one line (`smtpdoc: ...`) and exit 2, like every other error."""

    def main(self, *args: object, **kwargs: object) -> NoReturn:
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)  # type: ignore[call-overload]
        except click.UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `smtpdoc` alone: the help, as click prints it
                exc.show()
                sys.exit(exc.exit_code)
            command = exc.ctx.command_path if exc.ctx is not None else "smtpdoc"
            click.echo(f"smtpdoc: {exc.format_message()} ('{command} --help' lists the options.)", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"smtpdoc: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            _quiet_exit(EXIT_INTERRUPTED, "interrupted.")
        sys.exit(code if isinstance(code, int) else EXIT_OK)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smtpdoc")
def main() -> None:
    """Explain SMTP sessions in packet captures, step by step."""


def colour_wanted(flag: bool | None, env: dict[str, str], isatty: bool) -> bool:
    """--color/--no-color, else NO_COLOR, else FORCE_COLOR (no-color.org, force-color.org), else a terminal."""
    if flag is not None:
        return flag
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    return isatty


def choose_format(fmt: str | None, output: str | None) -> str:
    """The renderer: --format, else -o's suffix (an unknown suffix is a usage error), else terminal."""
    if fmt is not None:
        return fmt
    if not output:
        return "terminal"
    suffix = Path(output).suffix
    found = render.format_for_suffix(suffix)
    if found is None:
        known = ", ".join(f".{s}" for s in ("txt", "json", "md", "html", "csv", "log"))
        what = f"suffix '{suffix}'" if suffix else "no suffix"
        raise click.UsageError(
            f"-o '{output}' has {what}, so smtpdoc cannot tell the format; use one of {known} or add --format."
        )
    return found


@main.command(epilog=EXAMPLES)
@click.argument("capture", type=click.Path(exists=True, dir_okay=False, readable=True))
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
def explain(
    capture: str,
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
) -> None:
    """Explain every SMTP session in CAPTURE (pcap or pcapng), step by step."""
    fmt = choose_format(fmt, output)
    target = Path(output) if output else None
    if target is not None:
        if target.resolve() == Path(capture).resolve():
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
    use_colour = target is None and colour_wanted(colour, dict(os.environ), sys.stdout.isatty())
    options = RenderOptions(
        colour=use_colour, show_secrets=show_secrets, brief=brief, summary_only=summary, findings_only=findings_only
    )
    from smtpdoc.job import Job

    job = Job(fmt, options, target, min_severity=min_severity, fail_on=fail_on)
    if show_secrets:
        click.echo("smtpdoc: warning: --show-secrets prints AUTH credentials in clear text.", err=True)

    def work() -> int:
        from smtpdoc.explain import Settings
        from smtpdoc.job import explain_one

        settings = Settings(reveal_secrets=show_secrets, stream=stream, keylog=keylog, decode_as=decode_as)
        tshark = _tshark(tshark_path)
        bar = _progress(capture, tshark.path, quiet, to_stdout=target is None)
        settings.progress = bar
        with bar if bar is not None else contextlib.nullcontext():
            done = explain_one(capture, tshark, settings, job, sys.stdout)
        for warning in done.warnings:
            click.echo(f"smtpdoc: {warning}", err=True)
        return done.code

    sys.exit(_guarded(capture, work))


def _tshark(path: str | None) -> Tshark:
    from smtpdoc.tshark import find_tshark

    return find_tshark(path)


def _guarded(capture: str, work: Callable[[], int]) -> int:
    """Run `work()` and turn whatever it raises into one line on stderr and an exit code."""
    try:
        code: int = work()
    except SmtpdocError as exc:
        _fail(exc)
    except BrokenPipeError:
        _quiet_exit(EXIT_BROKEN_PIPE)
    except KeyboardInterrupt:
        _quiet_exit(EXIT_INTERRUPTED, "interrupted; no output file was left behind.")
    except Exception as exc:
        if os.environ.get("SMTPDOC_DEBUG"):
            raise
        click.echo(
            f"smtpdoc: internal error on '{capture}': {type(exc).__name__}: {exc} "
            "(set SMTPDOC_DEBUG=1 for details, and please report it)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    return code


# -- progress and annotate -------------------------------------------------------------------
def _progress(capture: str, tshark_path: str, quiet: bool, to_stdout: bool) -> CaptureProgress | None:
    """A progress bar on stderr when it is a terminal, not --quiet, and no report shares that terminal."""
    if quiet or not sys.stderr.isatty() or (to_stdout and sys.stdout.isatty()):
        return None
    from smtpdoc.progress import CaptureProgress, capinfos_beside

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
    from smtpdoc.explain import Settings
    from smtpdoc.wireshark.launch import open_in_wireshark

    settings = Settings(keylog=keylog, decode_as=decode_as)
    try:
        tshark = _tshark(tshark_path)
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
    """Remove what `smtpdoc profile install` wrote and nobody changed since (safe to run twice)."""
    from smtpdoc.wireshark.install import personal_config_dir, uninstall

    config = personal_config_dir(dict(os.environ), Path.home())
    try:
        done = uninstall(config, name)
    except SmtpdocError as exc:
        _fail(exc)
    if not done.found:
        click.echo(f"smtpdoc: no smtpdoc profile '{name}' is installed in '{config}'; nothing to remove.")
        return
    for path in done.removed:
        click.echo(f"smtpdoc: removed '{path}'.")
    for path in done.kept:
        click.echo(f"smtpdoc: kept '{path}': it changed since smtpdoc installed it.")


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
    from smtpdoc.explain import Settings
    from smtpdoc.lab.build import make_lab

    try:
        done = make_lab(capture, Path(directory), _tshark(tshark_path), Settings(keylog=keylog), count, seed)
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
        result = check_answers(Path(directory), Path(answers), _tshark(tshark_path))
    except SmtpdocError as exc:
        _fail(exc)
    except Exception as exc:
        _lab_bug(exc, answers)
    for line in report_lines(result):
        click.echo(line)
    if result.misses:
        sys.exit(EXIT_NOT_FULL_MARKS)

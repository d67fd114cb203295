"""smtpdoc wireshark, smtpdoc profile and smtpdoc lab: the Wireshark and teaching commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from smtpdoc.errors import (
    EXIT_CUT_SHORT,
    EXIT_INTERNAL,
    SmtpdocError,
)

if TYPE_CHECKING:
    pass

from smtpdoc.cli.base import (
    _fail,
    _tshark,
    main,
)

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
        code = open_in_wireshark(capture, tshark, settings, dict(os.environ), Path.home(), wireshark_path, _say)
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

"""The click group and what every command shares: one-line errors, exit codes, the guard.

The cli package is the only part of smtpdoc that reads argv or the environment, or exits;
nothing outside it imports it (tests/test_quality.py).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

import click

from smtpdoc import __version__, render
from smtpdoc.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    SmtpdocError,
)

if TYPE_CHECKING:
    from smtpdoc.progress import CaptureProgress
    from smtpdoc.tshark import Tshark


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


@contextlib.contextmanager
def report_stream() -> Iterator[TextIO]:
    """Standard output for a report, buffered even when Python runs unbuffered.

    With PYTHONUNBUFFERED (or `python -u`) every write of a renderer is a system call: a
    Markdown report of 1,000 sessions made about 100,000 (issue 11). The report is then
    written through a 64 KiB buffer on the same file descriptor, flushed at the end;
    progress and messages go to stderr, so nothing is reordered.
    """
    out = sys.stdout
    if not getattr(out, "write_through", False) or not isinstance(getattr(out, "buffer", None), io.RawIOBase):
        yield out
        return
    out.flush()
    # closefd=False: closing this file flushes it and leaves the descriptor to sys.stdout.
    # A terminal still gets each line as it is written, as Python's own stdout would give it.
    with open(out.fileno(), "w", encoding=out.encoding, errors=out.errors, buffering=1 << 16, closefd=False) as text:
        text.reconfigure(line_buffering=out.isatty())
        yield text


def _tshark(path: str | None) -> Tshark:
    from smtpdoc.tshark import find_tshark

    return find_tshark(path)


def _guarded(capture: str, work: Callable[[], int], interrupted: Callable[[], str] | None = None) -> int:
    """Run `work()` and turn whatever it raises into one line on stderr and an exit code.

    `interrupted()` gives the line printed on Ctrl-C (default: no output file was left).
    """
    try:
        code: int = work()
    except SmtpdocError as exc:
        _fail(exc)
    except BrokenPipeError:
        _quiet_exit(EXIT_BROKEN_PIPE)
    except KeyboardInterrupt:
        _quiet_exit(EXIT_INTERRUPTED, interrupted() if interrupted else "interrupted; no output file was left behind.")
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

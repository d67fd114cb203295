"""smtpdoc watch: a live capture through tshark, each SMTP session explained as it closes (smtpdoc.live)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from smtpdoc import render
from smtpdoc.cli.base import _guarded, _tshark, choose_format, colour_wanted, main
from smtpdoc.errors import EXIT_OK, UsageProblem
from smtpdoc.render import RenderOptions

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
    type=click.Choice(render.names()),
    default=None,
    help="Output format (default: from -o's suffix, else terminal).",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write to this file at the end (whole, or not at all)."
)
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
    if duration is not None and count is not None:
        raise click.UsageError("give --duration or --count, not both.")
    fmt = choose_format(fmt, output)
    target = Path(output) if output else None
    if target is not None:
        from smtpdoc.outfile import check_writable

        try:
            check_writable(target)
        except UsageProblem as exc:
            raise click.UsageError(str(exc)) from None
    until = f"for {duration:g} s" if duration else f"for {count} packets" if count else "until Ctrl-C"

    def ready() -> None:
        if not quiet:
            what = f"'{interface}'" + (f" ({bpf})" if bpf else "")
            click.echo(f"smtpdoc: capturing on {what} {until}.", err=True)

    use_colour = target is None and colour_wanted(colour, dict(os.environ), sys.stdout.isatty())
    options = RenderOptions(colour=use_colour, show_secrets=show_secrets, brief=brief)

    def work() -> int:
        from smtpdoc.explain import Settings
        from smtpdoc.live import LiveOptions, Watch

        settings = Settings(reveal_secrets=show_secrets, keylog=keylog, decode_as=decode_as)
        live = LiveOptions(interface=interface, bpf=bpf, duration=duration, count=count)
        renderer = render.by_name(fmt)
        with Watch(_tshark(tshark_path), live, settings, on_ready=ready) as running:
            if target is None:
                renderer(running.report, sys.stdout, options)
            else:
                from smtpdoc.outfile import atomic_text

                with atomic_text(target) as out:
                    renderer(running.report, out, options)
        if running.outcome.warning:
            click.echo(f"smtpdoc: {running.outcome.warning}", err=True)
        if running.outcome.interrupted and not quiet:
            sessions = running.outcome.sessions
            click.echo(f"smtpdoc: stopped by Ctrl-C; explained the {sessions} session(s) seen.", err=True)
        return EXIT_OK

    sys.exit(_guarded(f"interface {interface}", work, lambda: "interrupted"))

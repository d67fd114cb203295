"""The command line: the only package that reads argv or the environment, or exits.

base holds the click group and the guard; explain_cmd, watch_cmd and tools_cmd its commands.

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
  8    watch: not permitted to capture on the interface
  9    --dask: the cluster cannot be used (extra not installed, scheduler not answering)
  10, 11  smtpdoc lab (see the README)
  12   `smtpdoc wireshark`: Wireshark cannot be opened (no wireshark binary, or no display)
  130  interrupted (Ctrl-C); no partial output file is left
  141  stdout was closed by its reader (`| head`); nothing more is printed
With several captures, the code that comes first in smtpdoc.errors.PRECEDENCE wins.
Every error is found before any report text is written, wherever that can be known.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import click

__all__ = ["choose_format", "colour_wanted", "main", "run"]


def run(args: Sequence[str] | None = None, prog_name: str | None = None) -> NoReturn:
    """`smtpdoc` and `python -m smtpdoc`: tshark's first pass is started before click and the
    commands are imported, when the command line allows (smtpdoc.cli.head_start)."""
    from smtpdoc.cli import head_start

    head_start.begin(sys.argv[1:] if args is None else args)
    try:
        _group().main(args=args, prog_name=prog_name)
    finally:
        head_start.end()


def _group() -> click.Group:
    from smtpdoc.cli import explain_cmd, tools_cmd, watch_cmd  # noqa: F401  (importing them registers the commands)
    from smtpdoc.cli.base import main

    return main


def __getattr__(name: str) -> Any:
    """main, choose_format, colour_wanted: imported on first use, so that `run` starts quickly."""
    if name in ("main", "choose_format", "colour_wanted"):
        _group()
        from smtpdoc.cli import base

        return getattr(base, name)
    raise AttributeError(f"module 'smtpdoc.cli' has no attribute '{name}'")

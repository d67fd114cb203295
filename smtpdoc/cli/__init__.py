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

from smtpdoc.cli import explain_cmd, tools_cmd, watch_cmd  # noqa: F401  (importing them registers the commands)
from smtpdoc.cli.base import choose_format, colour_wanted, main

__all__ = ["choose_format", "colour_wanted", "main"]

"""smtpdoc's exceptions and exit codes. Only the CLI turns them into exits.

One table of exit codes (also in the README), and one precedence among them: when
several things went wrong (several inputs, or a cut-short capture that also has
findings at or above --fail-on), the code that comes first in `PRECEDENCE` wins.
"""

from __future__ import annotations

from collections.abc import Iterable

EXIT_OK = 0
EXIT_INTERNAL = 1  # a bug: one line on stderr, SMTPDOC_DEBUG=1 shows the traceback
EXIT_USAGE = 2  # bad option, missing file, output folder missing, no such --stream
EXIT_TSHARK_MISSING = 3  # tshark missing or older than 4.0
EXIT_UNREADABLE = 4  # the file is not a capture tshark can read
EXIT_CUT_SHORT = 5  # the capture is cut short; what could be read was explained
EXIT_TSHARK_FAILED = 6  # tshark crashed or was killed
EXIT_FINDINGS = 7  # --fail-on: a finding at or above that severity
EXIT_NOT_PERMITTED = 8  # watch: not permitted to capture on the interface
EXIT_CLUSTER = 9  # --dask: the cluster cannot be used (extra missing, scheduler not answering)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT); no partial output file is left
EXIT_BROKEN_PIPE = 141  # the reader of stdout went away (`| head`); 128 + SIGPIPE, as the shell reports it

# usage > tshark missing > capture not permitted / dask unusable > not a capture > tshark failed > internal
# > cut short > --fail-on > ok.
PRECEDENCE = (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    EXIT_TSHARK_MISSING,
    EXIT_NOT_PERMITTED,
    EXIT_CLUSTER,
    EXIT_UNREADABLE,
    EXIT_TSHARK_FAILED,
    EXIT_INTERNAL,
    EXIT_CUT_SHORT,
    EXIT_FINDINGS,
    EXIT_BROKEN_PIPE,
    EXIT_OK,
)


def first_exit_code(codes: Iterable[int]) -> int:
    """The code that wins among several outcomes (EXIT_OK when there are none)."""
    rank = {code: i for i, code in enumerate(PRECEDENCE)}
    return min(codes, key=lambda code: rank.get(code, len(PRECEDENCE)), default=EXIT_OK)


class SmtpdocError(Exception):
    """Base class; `exit_code` is what the CLI exits with. The message is one sentence."""

    exit_code = EXIT_INTERNAL


class UsageProblem(SmtpdocError):
    """The command line asks for something that cannot be (a missing folder, an absent stream)."""

    exit_code = EXIT_USAGE


class TsharkMissing(SmtpdocError):
    exit_code = EXIT_TSHARK_MISSING


class TsharkTooOld(SmtpdocError):
    exit_code = EXIT_TSHARK_MISSING


class CaptureUnreadable(SmtpdocError):
    """tshark could not read the capture at all (missing, not a capture)."""

    exit_code = EXIT_UNREADABLE


class TsharkFailed(SmtpdocError):
    """tshark died or answered something we cannot parse."""

    exit_code = EXIT_TSHARK_FAILED


class OutputUnwritable(SmtpdocError):
    """An output file cannot be written (missing folder, no permission, disk full)."""

    exit_code = EXIT_USAGE

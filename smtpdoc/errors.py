"""smtpdoc's exceptions. Only the CLI turns them into exit codes."""

from __future__ import annotations


class SmtpdocError(Exception):
    """Base class; `exit_code` is what the CLI exits with."""

    exit_code = 1


class TsharkMissing(SmtpdocError):
    exit_code = 3


class TsharkTooOld(SmtpdocError):
    exit_code = 3


class CaptureUnreadable(SmtpdocError):
    """tshark could not read the capture at all (missing, not a capture)."""

    exit_code = 4


class TsharkFailed(SmtpdocError):
    """tshark died or answered something we cannot parse."""

    exit_code = 6


class OutputUnwritable(SmtpdocError):
    """An output file cannot be written (missing folder, no permission, disk full)."""

    exit_code = 2

"""Display filters run in tshark: which frames of a capture a filter selects.

Used twice: when a lab is made (each question's candidate filters are tried and the first that
selects exactly the answer's frames goes in the key) and when answers are marked (a student's
filter is right when it selects the same frames as the key's). A filter that does not compile
is a `BadFilter`, which the marker counts as a wrong answer.
"""

from __future__ import annotations

from smtpdoc import tshark as tshark_mod
from smtpdoc.errors import SmtpdocError, TsharkFailed
from smtpdoc.lab.view import View
from smtpdoc.tshark import Tshark

_BAD_FILTER_EXIT = 2  # tshark's exit code for a display filter that does not compile


class BadFilter(SmtpdocError):
    """The display filter does not compile; the message is tshark's reason."""

    exit_code = 2


def filter_args(view: View, display_filter: str) -> list[str]:
    return ["-n", "-r", view.capture, *view.options(), "-Y", display_filter, "-T", "fields", "-e", "frame.number"]


def selected_frames(tshark: Tshark, view: View, display_filter: str) -> list[int]:
    """The frame numbers `display_filter` selects in the capture (BadFilter when it does not compile)."""
    capture = view.capture
    if not display_filter.strip():
        raise BadFilter("the filter is empty")
    with tshark_mod.stream(tshark, filter_args(view, display_filter)) as (stdout, result):
        data = stdout.read()
    if result.returncode != 0:
        try:
            tshark_mod.check(result, capture)  # the capture itself unreadable: CaptureUnreadable
        except TsharkFailed:
            if result.returncode == _BAD_FILTER_EXIT:
                raise BadFilter(result.message()) from None
            raise
    return sorted(int(line) for line in data.decode("ascii", "replace").split() if line.isdigit())


def frame_filter(frames: list[int]) -> str:
    """The plain filter that selects exactly these frames: frame.number in {1..3, 7}."""
    ordered = sorted(set(frames))
    parts: list[str] = []
    start = prev = ordered[0]
    for frame in [*ordered[1:], None]:
        if frame is not None and frame == prev + 1:
            prev = frame
            continue
        parts.append(str(start) if start == prev else f"{start}..{prev}")
        if frame is not None:
            start = prev = frame
    return f"frame.number in {{{', '.join(parts)}}}"


def choose_filter(tshark: Tshark, view: View, frames: list[int], candidates: list[str]) -> tuple[str, bool]:
    """The first candidate that selects exactly `frames`, else frame.number in {...}; (filter, native?)."""
    wanted = sorted(set(frames))
    for candidate in candidates:
        try:
            if selected_frames(tshark, view, candidate) == wanted:
                return candidate, True
        except BadFilter:
            continue
    return frame_filter(wanted), False

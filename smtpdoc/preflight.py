"""Questions asked of the capture before or after the main tshark pass, when a sentence needs them."""

from __future__ import annotations

from smtpdoc import tshark as tshark_mod
from smtpdoc.tshark import Tshark


def stream_exists(capture: str, tshark: Tshark, stream: int) -> bool:
    """Whether `capture` has any frame of TCP stream `stream` (SMTP or not)."""
    args = ["-n", "-r", capture, "-Y", f"tcp.stream == {stream}", "-T", "fields", "-e", "frame.number"]
    return bool(tshark_mod.run(tshark, args, capture).strip())

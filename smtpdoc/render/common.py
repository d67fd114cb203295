"""Small helpers shared by renderers."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(value: object) -> str:
    """Capture-derived text made safe for a terminal: control bytes shown as \\xNN."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def frame_ranges(frames: list[int]) -> str:
    """[1, 2, 3, 7, 9, 10] → '1-3, 7, 9-10'."""
    if not frames:
        return "-"
    ordered = sorted(set(frames))
    parts: list[str] = []
    start = prev = ordered[0]
    for frame in ordered[1:]:
        if frame == prev + 1:
            prev = frame
            continue
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = frame
    parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)

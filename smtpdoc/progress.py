"""A progress bar on stderr while tshark reads a long capture.

The bar counts frames read. Its total comes from `capinfos -c -M`, run in a
background thread: capinfos only counts records, which is far quicker than
tshark's dissection, and until it answers the bar simply pulses. Whether to
show a bar at all (a terminal on stderr, no --quiet) is the CLI's decision.
"""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

_PACKETS = re.compile(r"Number of packets:\s*(\d+)")
_EVERY = 200  # frames between two redraw requests


def count_frames(output: str) -> int | None:
    """The frame count in `capinfos -c -M` output, or None."""
    match = _PACKETS.search(output)
    return int(match[1]) if match else None


def capinfos_beside(tshark_path: str) -> str | None:
    candidate = Path(tshark_path).with_name("capinfos")
    return str(candidate) if candidate.is_file() else None


class CaptureProgress:
    """Context manager and frames-read callback: `with CaptureProgress(...) as tick: tick(n)`."""

    def __init__(self, capture: str, stream: TextIO, capinfos: str | None = None, label: str = "Reading") -> None:
        self._capture = capture
        self._capinfos = capinfos
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,} frames{task.fields[of]}"),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task: TaskID | None = None
        self._counter: subprocess.Popen[str] | None = None
        self._last = 0
        self._label = f"{label} {Path(capture).name}"

    def __enter__(self) -> CaptureProgress:
        self._progress.start()
        self._task = self._progress.add_task(self._label, total=None, of="")
        if self._capinfos:
            try:
                self._counter = subprocess.Popen(
                    [self._capinfos, "-c", "-M", self._capture],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
            except OSError:
                self._counter = None
            else:
                threading.Thread(target=self._find_total, args=(self._counter,), daemon=True).start()
        return self

    def _find_total(self, counter: subprocess.Popen[str]) -> None:
        output, _ = counter.communicate()
        total = count_frames(output or "")
        if total and self._task is not None:
            self._progress.update(self._task, total=total, of=f" of {total:,}")

    def __call__(self, frames: int) -> None:
        if self._task is not None and frames - self._last >= _EVERY:
            self._last = frames
            self._progress.update(self._task, completed=frames)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._counter is not None and self._counter.poll() is None:
            self._counter.terminate()
        self._progress.stop()

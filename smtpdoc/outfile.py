"""Report files that appear whole or not at all.

A report is written to a temporary file in the target's own folder (so the final
rename stays on one file system, hence atomic) and renamed into place only when
the renderer finished. An error or Ctrl-C removes the temporary file; an existing
report of the same name is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from smtpdoc.errors import UsageProblem


def check_writable(path: Path) -> None:
    """Raise UsageProblem, before any work is done, when `path` cannot become a file."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UsageProblem(f"-o '{path}' is a folder; give a file name inside it.")
    if not folder.exists():
        raise UsageProblem(f"-o '{path}': the folder '{folder}' does not exist.")
    if not folder.is_dir():
        raise UsageProblem(f"-o '{path}': '{folder}' is not a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageProblem(f"-o '{path}': the folder '{folder}' is not writable.")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_text(path: Path) -> Iterator[TextIO]:
    """`with atomic_text(p) as out: ...` — `p` holds everything written, or is untouched."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise UsageProblem(f"cannot write into '{folder}': {exc.strerror or exc}.") from None
    temp = Path(name)
    try:
        with open(fd, "w", encoding="utf-8") as handle:
            yield handle
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise

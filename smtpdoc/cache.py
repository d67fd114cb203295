"""smtpdoc's small per-user cache (`$XDG_CACHE_HOME/smtpdoc`, else `~/.cache/smtpdoc`).

Only things that are cheap to rebuild go here (tshark's version per binary, the parsed
catalog): a cache that cannot be read or written costs time, never a wrong answer.
"""

from __future__ import annotations

import os
import tempfile


def path(name: str) -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "smtpdoc", name)


def write(name: str, text: str) -> None:
    """Replace cache file `name` atomically; best effort."""
    target = path(name)
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(target), delete=False, encoding="utf-8") as f:
            f.write(text)
        os.replace(f.name, target)
    except OSError:
        pass


def read(name: str) -> str | None:
    try:
        with open(path(name), encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None

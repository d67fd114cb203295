"""Prove that smtpdoc's ways of reading a capture give the same report, byte for byte.

    .venv/bin/python bench/same_output.py [CAPTURE ...]

Each capture (default: every one in tests/data, examples and ../shared/corpus, with its
key log when there is one and without) is explained three ways and rendered as JSON:
  * as shipped: field-selected PDML (`smtpdoc.pdml_flat`; the tree reader only from a
    decrypted frame on), narrowing only large, mostly-not-SMTP captures;
  * tree:       the PDML tree reader (`smtpdoc.pdml`) from the first frame;
  * narrowed:   always narrowed to the SMTP candidates first (`smtpdoc.narrow`).
All three must be equal. Exit status 1 names the captures where they differ.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import IO
from unittest import mock

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

from smtpdoc import narrow, passes, pdml_flat, render  # noqa: E402
from smtpdoc.explain import Settings, explain_capture  # noqa: E402
from smtpdoc.packets import Packet  # noqa: E402
from smtpdoc.render import RenderOptions  # noqa: E402
from smtpdoc.tshark import Tshark, find_tshark  # noqa: E402


def _tree_from_the_start(stdout: IO[bytes]) -> Iterator[Packet]:
    raise pdml_flat.NeedsTree(1)
    yield  # a generator, like the reader it stands for


@contextmanager
def tree() -> Iterator[None]:
    with mock.patch.object(passes.pdml_flat, "read_packets", _tree_from_the_start):
        yield


@contextmanager
def narrowed() -> Iterator[None]:
    with (
        mock.patch.object(narrow, "MIN_BYTES", 0),
        mock.patch.object(narrow, "WINDOW", 0),
        mock.patch.object(narrow, "sparse", lambda kept: True),
    ):
        yield


MODES: dict[str, Callable[[], AbstractContextManager[None]]] = {
    "as shipped": nullcontext,
    "tree": tree,
    "narrowed": narrowed,
}


def corpus() -> list[tuple[Path, Path | None]]:
    """(capture, key log or None): every capture once without keys, and once with, when it has some."""
    paths = sorted(REPO.glob("tests/data/*.pcap*")) + sorted(REPO.glob("examples/*.pcap*"))
    paths += sorted((REPO.parent / "shared" / "corpus").rglob("*.pcap*"))
    found: list[tuple[Path, Path | None]] = []
    for path in paths:
        found.append((path, None))
        keylog = path.with_suffix(".keylog")
        if keylog.exists():
            found.append((path, keylog))
    return found


def report_json(path: Path, keylog: Path | None, tshark: Tshark) -> str:
    decode_as = (2525,) if "2525" in path.name else ()
    settings = Settings(keylog=str(keylog) if keylog else None, decode_as=decode_as)
    report, _ = explain_capture(str(path), tshark, settings)
    out = io.StringIO()
    render.by_name("json")(report, out, RenderOptions())
    return out.getvalue()


def differences(cases: list[tuple[Path, Path | None]], tshark: Tshark) -> list[str]:
    """One line per (capture, mode) whose JSON differs from the shipped way's."""
    problems: list[str] = []
    for path, keylog in cases:
        outputs = {}
        for name, mode in MODES.items():
            with mode():
                outputs[name] = report_json(path, keylog, tshark)
        for name, text in outputs.items():
            if text != outputs["as shipped"]:
                problems.append(f"{path.name}{' with keys' if keylog else ''}: '{name}' differs from 'as shipped'")
    return problems


def main() -> int:
    tshark = find_tshark()
    cases = [(Path(a), None) for a in sys.argv[1:]] or corpus()
    problems = differences(cases, tshark)
    print(f"{len(cases)} captures (key log variants counted), {len(MODES)} ways each: {len(problems)} differences")
    for line in problems:
        print("  " + line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

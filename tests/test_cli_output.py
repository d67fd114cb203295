"""The report on standard output is buffered even when Python runs unbuffered (issue 11).

With PYTHONUNBUFFERED every renderer write was a system call (a Markdown report of 1,000
sessions: about 100,000). `smtpdoc.cli.base.report_stream` writes through a buffer on the
same descriptor instead, and the report is the same bytes.
"""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from smtpdoc.cli.base import report_stream

from conftest import EXAMPLES


def test_an_unbuffered_stdout_gets_a_buffer_on_the_same_descriptor(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = tmp_path / "out.txt"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT)
    unbuffered = io.TextIOWrapper(io.FileIO(fd, "w"), encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stdout", unbuffered)
    unbuffered.write("head ")
    with report_stream() as out:
        assert out is not unbuffered
        out.write("report\n" * 3)
        assert target.read_text() == "head "  # held in the buffer, not one write per call
    assert target.read_text() == "head " + "report\n" * 3
    unbuffered.write("after")  # the descriptor is still sys.stdout's
    unbuffered.flush()
    assert target.read_text().endswith("after")
    unbuffered.close()


def test_a_buffered_stdout_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    text = io.StringIO()
    monkeypatch.setattr(sys, "stdout", text)
    with report_stream() as out:
        assert out is text


@pytest.mark.parametrize("fmt", ["markdown", "terminal", "html"])
def test_the_report_is_the_same_with_and_without_pythonunbuffered(fmt: str) -> None:
    def report(unbuffered: bool) -> bytes:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        if unbuffered:
            env["PYTHONUNBUFFERED"] = "1"
        capture = str(EXAMPLES / "starttls.pcapng")
        argv = [sys.executable, "-m", "smtpdoc", "explain", capture, "--format", fmt, "-q", "--no-color"]
        done = subprocess.run(argv, capture_output=True, env=env, check=True)
        return done.stdout

    plain = report(unbuffered=False)
    assert b"STARTTLS" in plain
    assert report(unbuffered=True) == plain


def test_a_terminal_still_gets_each_line_as_it_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    master, slave = os.openpty()
    unbuffered = io.TextIOWrapper(io.FileIO(slave, "w"), encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stdout", unbuffered)
    try:
        with report_stream() as out:
            out.write("Step 1. TCP three-way handshake\n")
            readable, _, _ = select.select([master], [], [], 5)
            assert readable, "the line is still in the buffer"
            assert os.read(master, 1024).startswith(b"Step 1. TCP three-way handshake")
    finally:
        unbuffered.close()
        os.close(master)

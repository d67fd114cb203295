"""Bad input is normal input: one line on stderr, a documented exit code, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from conftest import DATA, EXAMPLES, run_cli


def _one_line_error(done: object) -> str:
    stderr = done.stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("smtpdoc: ")
    return lines[0]


def test_garbage_file_is_unreadable(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.pcap"
    bad.write_bytes(b"this is not a capture\n" * 10)
    done = run_cli("explain", str(bad))
    assert done.returncode == 4
    assert "isn't a capture file" in _one_line_error(done)


def test_a_zero_byte_file_is_not_a_capture(tmp_path: Path) -> None:
    """tshark reads 0 bytes as an empty ERF file; smtpdoc says it is no capture (issue 9)."""
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    done = run_cli("explain", str(empty), "--format", "json")
    assert done.returncode == 4, done.stderr
    assert done.stdout == "" and "the file is empty (0 bytes)" in done.stderr


def test_truncated_capture_is_explained_as_far_as_it_goes(tmp_path: Path) -> None:
    whole = (EXAMPLES / "plain.pcapng").read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    done = run_cli("explain", str(cut), "--format", "json")
    assert done.returncode == 5
    assert "cut short" in _one_line_error(done)
    (session,) = json.loads(done.stdout)["sessions"]
    names = [s["name"] for s in session["steps"]]
    assert names[:4] == ["tcp_handshake", "greeting", "ehlo", "ehlo_reply"]


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("explain", str(tmp_path / "nope.pcap"))
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr


def test_missing_tshark_says_what_to_install(tmp_path: Path) -> None:
    done = run_cli("explain", str(EXAMPLES / "plain.pcapng"), env={"SMTPDOC_TSHARK": str(tmp_path / "no-tshark")})
    assert done.returncode == 3
    assert "apt-get install -y tshark" in _one_line_error(done)


def test_old_tshark_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "tshark"
    fake.write_text("#!/bin/sh\necho 'TShark (Wireshark) 3.6.2 (Git v3.6.2 packaged as 3.6.2-2)'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    done = run_cli("explain", str(EXAMPLES / "plain.pcapng"), "--tshark", str(fake))
    assert done.returncode == 3
    line = _one_line_error(done)
    assert "3.6.2" in line and "4.0 or newer" in line


def test_crashing_tshark_is_one_line(tmp_path: Path) -> None:
    real = shutil.which("tshark")
    assert real is not None
    fake = tmp_path / "tshark"
    # Answers the version check like the real one, then dies on the real work.
    fake.write_text(f'#!/bin/sh\nif [ "$1" = "-v" ]; then exec {real} -v; fi\nkill -SEGV $$\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    done = run_cli("explain", str(EXAMPLES / "plain.pcapng"), "--tshark", str(fake))
    assert done.returncode == 6
    assert "signal" in _one_line_error(done)


def test_one_sided_and_mid_session_captures_say_so() -> None:
    for name, finding in (("one-sided.pcapng", "one_sided"), ("mid-session.pcapng", "mid_session")):
        path = DATA / name
        if not path.exists():
            pytest.fail(f"{path} is missing: run examples/make_examples.sh")
        done = run_cli("explain", str(path), "--format", "json")
        assert done.returncode == 0, done.stderr
        (session,) = json.loads(done.stdout)["sessions"]
        assert finding in [f["name"] for f in session["findings"]]
        assert session["notes"], "a sentence must say what is missing"


def test_garbage_on_port_25_is_explained_not_crashed() -> None:
    done = run_cli("explain", str(EXAMPLES / "starttls.pcapng"), "--decode-as", "25", "--format", "json")
    assert done.returncode == 0


def test_help_shows_an_example() -> None:
    done = run_cli("explain", "--help")
    assert done.returncode == 0 and "smtpdoc explain examples/starttls.pcapng" in done.stdout


def test_no_colour_in_a_pipe() -> None:
    done = run_cli("explain", str(EXAMPLES / "plain.pcapng"))
    assert "\x1b[" not in done.stdout


def test_colour_when_asked() -> None:
    done = run_cli("explain", str(EXAMPLES / "plain.pcapng"), "--color", env={"TERM": "xterm-256color"})
    assert "\x1b[" in done.stdout


def test_capture_text_cannot_inject_terminal_escapes() -> None:
    from smtpdoc.render.common import printable

    assert printable("220 evil\x1b[2J banner") == "220 evil\\x1b[2J banner"
    assert os.linesep not in printable("a\x00b")

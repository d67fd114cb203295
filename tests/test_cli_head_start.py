"""The head start (smtpdoc.cli.head_start): tshark's first pass, started before the commands are
imported, is the very pass explain then asks for, or it is stopped unseen.

Through the real tshark: `smtpdoc.cli.run` runs in this process, and every process smtpdoc
starts is recorded (subprocess.Popen wrapped, the real one called) to count tshark's passes.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smtpdoc import tshark as tshark_mod
from smtpdoc.cli import head_start, run

from conftest import DATA, EXAMPLES

STARTTLS = str(EXAMPLES / "starttls.pcapng")


class _Recorder:
    def __init__(self, real: Any) -> None:
        self.real = real
        self.started: list[tuple[list[str], subprocess.Popen[bytes]]] = []

    def __call__(self, args: list[str], *rest: Any, **kw: Any) -> subprocess.Popen[bytes]:
        proc: subprocess.Popen[bytes] = self.real(args, *rest, **kw)
        self.started.append((list(args), proc))
        return proc

    def tshark_passes(self) -> list[list[str]]:
        """The command lines of the tshark runs that read a capture (not `tshark -v`)."""
        return [args for args, _ in self.started if "-r" in args]


@pytest.fixture
def popen(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Recorder]:
    recorder = _Recorder(subprocess.Popen)
    monkeypatch.setattr(subprocess, "Popen", recorder)
    yield recorder
    assert not tshark_mod._ahead, "a pass started ahead was left running"


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as stop:
        run(argv)
    code = stop.value.code
    return code if isinstance(code, int) else 0


@pytest.mark.parametrize(
    ("capture", "extra"),
    [
        (STARTTLS, []),
        (STARTTLS, ["--stream", "0", "--brief", "--no-color"]),
        (STARTTLS, ["--format=markdown", "--min-severity", "warning"]),
        (str(DATA / "smtp-port-2526.pcapng"), ["--decode-as", "2526"]),
        (str(DATA / "pipelining.pcapng"), ["--format", "json", "--"]),
    ],
)
def test_the_pass_started_ahead_is_the_pass_explain_reads(
    popen: _Recorder, capsys: pytest.CaptureFixture[str], capture: str, extra: list[str]
) -> None:
    argv = ["explain", capture, "-q", *extra] if "--" not in extra else ["explain", "-q", *extra, capture]
    assert head_start._options(argv) is not None
    assert _run(argv) == 0
    passes = popen.tshark_passes()
    assert len(passes) == 1, passes  # started once, ahead, and read: not started a second time
    assert passes[0][passes[0].index("-r") + 1] == capture
    if "--decode-as" in extra:
        assert "tcp.port==2526,smtp" in passes[0]
    if "--stream" in extra:
        assert any(arg.startswith("tcp.stream == 0 && (") for arg in passes[0])
    out = capsys.readouterr().out
    assert "EHLO" in out or "ehlo" in out


def test_with_a_key_log_the_tree_pass_is_started_ahead_and_read_once(
    popen: _Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    keylog = str(EXAMPLES / "starttls.keylog")
    assert _run(["explain", STARTTLS, "--keylog", keylog, "--format", "json", "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sessions"][0]["tls"]["decrypted"] is True
    first = popen.tshark_passes()[0]
    assert f"tls.keylog_file:{keylog}" in first and "-j" in first
    assert popen.tshark_passes().count(first) == 1


def test_a_usage_error_stops_the_pass_started_ahead_and_says_only_the_usage_error(
    popen: _Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["explain", STARTTLS, "--summary", "--format", "json", "-q"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("smtpdoc: --summary shapes the terminal output")
    (args, proc), *_ = popen.started
    assert "-r" in args and proc.poll() is not None  # started ahead, then stopped


def test_without_a_cached_tshark_version_there_is_no_head_start(
    popen: _Recorder, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    head_start.begin(["explain", STARTTLS, "--format", "json"])
    assert popen.started == []
    assert _run(["explain", STARTTLS, "--format", "json", "-q"]) == 0  # asks `tshark -v`, then reads
    assert json.loads(capsys.readouterr().out)["sessions"][0]["index"] == 1
    assert [args[1:] for args, _ in popen.started if "-r" not in args] == [["-v"]]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--version"],
        ["annotate", STARTTLS, "-o", "x.pcapng"],
        ["explain"],
        ["explain", STARTTLS, STARTTLS],  # several captures
        ["explain", "-"],  # stdin
        ["explain", str(EXAMPLES)],  # a folder
        ["explain", STARTTLS, "--jobs", "2"],
        ["explain", STARTTLS, "--help"],
        ["explain", STARTTLS, "--some-new-option"],
        ["explain", STARTTLS, "-qo", "x.json"],  # short options run together: not read here
        ["explain", STARTTLS, "--stream"],  # a value missing
        ["explain", STARTTLS, "--stream", "--brief"],
        ["explain", str(DATA / "broken" / "empty-file.pcapng")],
        ["explain", str(DATA / "no-such.pcapng")],
        ["explain", STARTTLS, "--stream", "x"],
        ["explain", STARTTLS, "--decode-as", "70000"],
        ["explain", STARTTLS, "--keylog", str(DATA / "no-such.keylog")],
    ],
)
def test_anything_but_the_plain_case_gets_no_head_start(popen: _Recorder, argv: list[str]) -> None:
    head_start.begin(argv)
    assert popen.started == []


def test_options_are_read_as_click_reads_them() -> None:
    assert head_start._options(["explain", "a.pcap", "--stream=3", "-o", "r.html", "--decode-as", "2526"]) == (
        "a.pcap",
        {"--stream": ["3"], "-o": ["r.html"], "--decode-as": ["2526"]},
    )
    assert head_start._options(["explain", "--", "-odd.pcap"]) == ("-odd.pcap", {})


def test_the_head_starts_ports_are_the_catalogs() -> None:
    from smtpdoc.session import SMTP_PORTS

    assert head_start.SMTP_PORTS == SMTP_PORTS


@pytest.fixture(scope="module")
def large_captures(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two captures of 4 MiB or more: 700 SMTP sessions back to back, and 40 among HTTPS-like ones."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import make_capture

    folder = tmp_path_factory.mktemp("large")
    smtp, mixed = folder / "smtp-700.pcapng", folder / "mixed-40.pcapng"
    make_capture.write_capture(make_capture.DEFAULT_SOURCE, 700, smtp)
    make_capture.write_capture(make_capture.DEFAULT_SOURCE, 40, mixed, mix=True)
    return smtp, mixed


def test_a_large_capture_of_mostly_smtp_gets_the_whole_pass_ahead(
    popen: _Recorder, large_captures: tuple[Path, Path]
) -> None:
    from smtpdoc import narrow

    smtp, mixed = large_captures
    assert smtp.stat().st_size >= narrow.MIN_BYTES and mixed.stat().st_size >= narrow.MIN_BYTES
    head_start.begin(["explain", str(smtp), "--format", "json", "-q"])
    ((args, _),) = popen.started
    assert args[args.index("-r") + 1] == str(smtp) and "pdml" in args
    tshark_mod.stop_ahead()
    # Mostly not SMTP: the narrowing pass decides how to read it, nothing starts ahead.
    head_start.begin(["explain", str(mixed), "--format", "json", "-q"])
    assert len(popen.started) == 1


def test_explain_reads_a_large_captures_head_once(
    popen: _Recorder,
    large_captures: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from smtpdoc import capture_head

    calls: list[str] = []
    real = capture_head.smtp_share

    def counted(path: str, ports: frozenset[int], frames: int) -> float | None:
        calls.append(path)
        return real(path, ports, frames)

    monkeypatch.setattr(capture_head, "smtp_share", counted)
    smtp, mixed = large_captures
    assert _run(["explain", str(smtp), "--format", "json", "-q"]) == 0
    assert len(json.loads(capsys.readouterr().out)["sessions"]) == 700
    assert calls == [str(smtp)]  # by the head start; passes.start takes its answer
    assert len(popen.tshark_passes()) == 1
    calls.clear()
    assert _run(["explain", str(mixed), "--format", "json", "-q"]) == 0
    assert len(json.loads(capsys.readouterr().out)["sessions"]) == 40
    assert calls == [str(mixed), str(mixed)]  # no head start: passes.start reads it and narrows

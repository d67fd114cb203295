"""The share of SMTP in a capture's first frames, read by Python, and what the narrowing decision does with it."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from smtpdoc import capture_head, narrow, passes, pdml_args
from smtpdoc.session import SMTP_PORTS
from smtpdoc.tshark import Tshark

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import make_capture  # noqa: E402

STARTTLS = REPO / "examples" / "starttls.pcapng"


def _editcap(tmp_path: Path, name: str, *args: str, source: Path = STARTTLS) -> Path:
    out = tmp_path / name
    subprocess.run(["editcap", *args, str(source), str(out)], check=True, capture_output=True)
    return out


def test_every_frame_of_an_smtp_session_is_on_an_smtp_port() -> None:
    assert capture_head.smtp_share(str(STARTTLS), SMTP_PORTS, 5000) == 1.0
    assert capture_head.smtp_share(str(REPO / "examples" / "starttls-ipv6.pcapng"), SMTP_PORTS, 5000) == 1.0


def test_smtp_on_another_port_is_no_share_until_that_port_is_named() -> None:
    capture = str(REPO / "tests" / "data" / "smtp-port-2525.pcapng")
    assert capture_head.smtp_share(capture, SMTP_PORTS, 5000) == 0.0
    assert capture_head.smtp_share(capture, SMTP_PORTS | {2525}, 5000) == 1.0


def test_the_mixed_bench_capture_is_counted_frame_by_frame(tmp_path: Path) -> None:
    out = tmp_path / "mixed.pcapng"
    make_capture.write_capture(make_capture.DEFAULT_SOURCE, 2, out, mix=True)
    https = len(make_capture.HTTPS_FRAMES) * make_capture.HTTPS_PER_SMTP
    assert capture_head.smtp_share(str(out), SMTP_PORTS, 10**6) == 60 / (2 * (https + 30))
    # Only the first frames count: the first SMTP session starts after `https` of them.
    assert capture_head.smtp_share(str(out), SMTP_PORTS, https) == 0.0


def test_a_classic_pcap_reads_like_its_pcapng(tmp_path: Path) -> None:
    pcap = _editcap(tmp_path, "starttls.pcap", "-F", "pcap")
    assert capture_head.smtp_share(str(pcap), SMTP_PORTS, 5000) == 1.0
    nanoseconds = _editcap(tmp_path, "starttls-ns.pcap", "-F", "nsecpcap")
    assert capture_head.smtp_share(str(nanoseconds), SMTP_PORTS, 12) == 1.0


@pytest.mark.parametrize("kind", ["gzip", "unknown link layer", "not a capture", "empty", "missing"])
def test_what_python_cannot_read_is_left_to_tshark(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "capture"
    if kind == "gzip":
        path.write_bytes(gzip.compress(STARTTLS.read_bytes()))
    elif kind == "unknown link layer":
        path = _editcap(tmp_path, "user0.pcap", "-F", "pcap", "-T", "user0")
    elif kind == "not a capture":
        path.write_text("220 mail.example.test ESMTP\r\n")
    elif kind == "empty":
        path.write_bytes(b"")
    assert capture_head.smtp_share(str(path), SMTP_PORTS, 5000) is None


def test_a_damaged_head_is_left_to_tshark(tmp_path: Path) -> None:
    data = bytearray(STARTTLS.read_bytes())
    data[4:8] = (0xFFFFFFF0).to_bytes(4, "little")  # the section header's length: absurd
    path = tmp_path / "damaged.pcapng"
    path.write_bytes(bytes(data))
    assert capture_head.smtp_share(str(path), SMTP_PORTS, 5000) is None


def _first(capture: Path, tshark: Tshark) -> passes.First:
    with mock.patch.object(narrow, "MIN_BYTES", 0):
        return passes.start(
            str(capture),
            tshark,
            keylog=None,
            decode_as=(),
            display_filter=pdml_args.DISPLAY_FILTER,
            smtp_ports=SMTP_PORTS,
        )


def _stop(first: passes.First) -> None:
    if first.whole is not None:
        first.whole.stop()
    if first.narrowing is not None:
        first.narrowing.close()


def test_only_the_pass_the_head_asks_for_is_started(tmp_path: Path, tshark: Tshark) -> None:
    mixed = tmp_path / "mixed.pcapng"
    make_capture.write_capture(make_capture.DEFAULT_SOURCE, 2, mixed, mix=True)
    unknown = tmp_path / "starttls.pcapng.gz"
    unknown.write_bytes(gzip.compress(STARTTLS.read_bytes()))  # tshark reads it, Python does not
    dense, sparse, undecided = _first(STARTTLS, tshark), _first(mixed, tshark), _first(unknown, tshark)
    try:
        assert dense.whole is not None and dense.narrowing is None  # mostly SMTP: no narrowing pass
        assert sparse.whole is None and sparse.narrowing is not None  # little SMTP: no whole pass
        assert undecided.whole is not None and undecided.narrowing is not None  # tshark's first frames decide
    finally:
        for first in (dense, sparse, undecided):
            _stop(first)

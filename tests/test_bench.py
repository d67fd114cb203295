"""The benchmark's capture generator: N back-to-back copies of one recorded session."""

from __future__ import annotations

import json
import sys
from itertools import pairwise
from pathlib import Path
from unittest import mock

import dpkt
import pytest

from smtpdoc import narrow
from smtpdoc.tshark import Tshark

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import make_capture  # noqa: E402

SOURCE = make_capture.DEFAULT_SOURCE


def _frames(path: Path) -> list[tuple[float, dpkt.ethernet.Ethernet]]:
    with path.open("rb") as f:
        return [(float(ts), dpkt.ethernet.Ethernet(buf)) for ts, buf in dpkt.pcapng.Reader(f)]


def test_copies_are_consecutive_sessions_with_their_own_client_port(tmp_path: Path) -> None:
    template = make_capture.read_template(SOURCE)
    out = tmp_path / "three.pcapng"
    frames = make_capture.write_capture(SOURCE, 3, out)
    per_copy = len(template.frames)
    assert frames == 3 * per_copy
    got = _frames(out)
    copies = [got[i * per_copy : (i + 1) * per_copy] for i in range(3)]
    ports = []
    for copy in copies:
        syn = copy[0][1].data.data
        assert syn.flags & dpkt.tcp.TH_SYN and not syn.flags & dpkt.tcp.TH_ACK
        ports.append(syn.sport)
        assert {p.data.data.sport for _, p in copy} | {p.data.data.dport for _, p in copy} == {syn.sport, syn.dport}
    assert len(set(ports)) == 3
    for earlier, later in pairwise(copies):
        assert earlier[-1][0] < later[0][0]


def test_checksums_are_recomputed(tmp_path: Path) -> None:
    out = tmp_path / "one.pcapng"
    make_capture.write_capture(SOURCE, 2, out)
    for _, eth in _frames(out)[-5:]:
        ip, tcp = eth.data, eth.data.data
        stored = (ip.sum, tcp.sum)
        ip.sum = tcp.sum = 0
        bytes(eth)  # dpkt fills zeroed checksums while packing
        assert (ip.sum, tcp.sum) == stored


def test_payloads_are_kept_byte_for_byte(tmp_path: Path) -> None:
    template = make_capture.read_template(SOURCE)
    out = tmp_path / "two.pcapng"
    make_capture.write_capture(SOURCE, 2, out)
    second = _frames(out)[len(template.frames) :]
    assert [bytes(p.data.data.data) for _, p in second] == [bytes(p.data.data.data) for _, p in template.frames]


def test_smtpdoc_sees_every_copy_as_a_full_walkthrough(tmp_path: Path) -> None:
    from conftest import sessions_of

    out = tmp_path / "three.pcapng"
    make_capture.write_capture(SOURCE, 3, out)
    sessions = sessions_of(out)
    assert [s.index for s in sessions] == [1, 2, 3]
    steps = {tuple(st.name for st in s.steps) for s in sessions}
    assert steps == {
        ("tcp_handshake", "greeting", "ehlo", "ehlo_reply", "starttls", "starttls_reply", "tls_handshake",
         "encrypted", "close")
    }  # fmt: skip


# -- the ways of reading a capture agree (bench/same_output.py on a sample) -----------------
REPO = BENCH.parent
SAMPLE = (
    ("examples/starttls.pcapng", None),
    ("examples/starttls.pcapng", "examples/starttls.keylog"),
    ("examples/starttls-dsb.pcapng", None),  # keys inside: the tree reader from frame 12 on
    ("tests/data/smtp-port-2525.pcapng", None),  # SMTP found by content: narrowing reads it all
    ("tests/data/tls12.pcapng", "tests/data/tls12.keylog"),
    ("tests/data/mid-session.pcapng", None),
    # implicit TLS on 4650 with keys: a second pass decodes the port as TLS carrying SMTP
    ("tests/data/implicit-tls-odd-port.pcapng", "tests/data/implicit-tls-odd-port.keylog"),
)


def test_flat_tree_and_narrowed_reading_give_the_same_report(tshark: Tshark) -> None:
    import same_output

    cases = [(REPO / path, REPO / keylog if keylog else None) for path, keylog in SAMPLE]
    with mock.patch.object(narrow.Kept, "renumber", autospec=True, side_effect=narrow.Kept.renumber) as renumbered:
        assert same_output.differences(cases, tshark) == []
    assert renumbered.call_count >= 4  # the narrowed way did narrow (all but port 2525 and the dsb fallback)
    report = json.loads(same_output.report_json(REPO / "examples/starttls.pcapng", None, tshark))
    assert [s["name"] for s in report["sessions"][0]["steps"]][:4] == [
        "tcp_handshake",
        "greeting",
        "ehlo",
        "ehlo_reply",
    ]


def test_a_narrowed_capture_keeps_its_own_frame_and_stream_numbers(tmp_path: Path, tshark: Tshark) -> None:
    from smtpdoc.explain import Settings, explain_capture

    out = tmp_path / "mixed.pcapng"
    make_capture.write_capture(SOURCE, 2, out, mix=True)  # 100 HTTPS-like sessions before each SMTP one
    https_frames = len(make_capture.HTTPS_FRAMES) * make_capture.HTTPS_PER_SMTP
    with (
        mock.patch.object(narrow, "MIN_BYTES", 0),
        mock.patch.object(narrow, "WINDOW", 1000),
        mock.patch.object(narrow.Kept, "renumber", autospec=True, side_effect=narrow.Kept.renumber) as renumbered,
    ):
        report, outcome = explain_capture(str(out), tshark, Settings())
        sessions = list(report.sessions)
    assert renumbered.call_count == 1
    assert [s.steps[0].frames[0] for s in sessions] == [https_frames + 1, 2 * https_frames + 31]
    assert [s.stream for s in sessions] == [100, 201]
    assert outcome.frames == 2 * 26  # only the candidates were read


def test_the_tshark_version_is_asked_once_per_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from smtpdoc import tshark as tshark_mod

    asked = tmp_path / "asked"
    fake = tmp_path / "tshark"
    fake.write_text(f"#!/bin/sh\necho x >> {asked}\necho 'TShark (Wireshark) 4.0.17 (Git v4.0.17)'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert tshark_mod.find_tshark(str(fake)).version == (4, 0, 17)
    assert tshark_mod.find_tshark(str(fake)).version == (4, 0, 17)
    assert asked.read_text().count("x") == 1
    fake.write_text(fake.read_text().replace("4.0.17", "4.2.0") + "# rebuilt\n")  # another binary now
    assert tshark_mod.find_tshark(str(fake)).version == (4, 2, 0)
    assert asked.read_text().count("x") == 2

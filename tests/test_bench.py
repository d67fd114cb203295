"""The benchmark's capture generator: N back-to-back copies of one recorded session."""

from __future__ import annotations

import sys
from itertools import pairwise
from pathlib import Path

import dpkt

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

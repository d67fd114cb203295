"""explain → annotate → Wireshark: what tshark shows through the thin Lua reader, frame by frame,
is what `smtpdoc explain` found (step positions and names, every finding with its severity)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from smtpdoc import pcapng
from smtpdoc.model import Session
from smtpdoc.tshark import Tshark

from conftest import DATA, EXAMPLES, explained, explained_with_keys, plugin_fields, roundtrip_captures

Steps = dict[int, list[tuple[int, str]]]
Findings = dict[int, list[tuple[str, str]]]
FIELDS = ("smtpdoc.step", "smtpdoc.step_id", "smtpdoc.finding", "smtpdoc.severity")

# Written by hand from the frames themselves (tshark's listing), not from smtpdoc's output.
PLAIN: Steps = {
    **{n: [(1, "tcp_handshake")] for n in (1, 2, 3)},
    4: [(2, "greeting")],
    6: [(3, "ehlo")],
    8: [(4, "ehlo_reply")],
    **{n: [(5, "mail_from")] for n in (9, 10)},  # MAIL FROM and its 250
    **{n: [(6, "rcpt_to")] for n in (11, 12)},  # alice
    **{n: [(7, "rcpt_to")] for n in (13, 14)},  # carol
    **{n: [(8, "data")] for n in (15, 16)},
    **{n: [(9, "message")] for n in (17, 18)},
    **{n: [(10, "quit")] for n in (19, 20)},
    **{n: [(11, "close")] for n in (21, 22)},
}
PIPELINED = [(5, "mail_from"), (6, "rcpt_to"), (7, "rcpt_to"), (8, "data")]
PIPELINING: Steps = {
    **{n: [(1, "tcp_handshake")] for n in (1, 2, 3)},
    4: [(2, "greeting")],
    6: [(3, "ehlo")],
    8: [(4, "ehlo_reply")],
    9: PIPELINED,  # MAIL, RCPT, RCPT, DATA in one segment
    10: PIPELINED,  # their four replies in one segment
    **{n: [(9, "message")] for n in (11, 12)},
    **{n: [(10, "mail_from")] for n in (13, 15, 17)},  # "MAI" + "L FROM:<...>" and the 250
    **{n: [(11, "rcpt_to")] for n in (18, 19)},
    **{n: [(12, "data")] for n in (20, 21)},
    **{n: [(13, "message")] for n in (22, 23)},
    **{n: [(14, "quit")] for n in (24, 25)},
    **{n: [(15, "close")] for n in (26, 27)},
}


def expected(sessions: tuple[Session, ...]) -> tuple[Steps, Findings]:
    steps: Steps = {}
    findings: Findings = {}
    for session in sessions:
        for step in session.steps:
            for frame in step.frames:
                steps.setdefault(frame, []).append((step.number, step.name))
        for finding in session.findings:
            for frame in finding.frames:
                findings.setdefault(frame, []).append((finding.name, finding.severity))
    return steps, findings


def shown(tshark: Tshark, copy: Path) -> tuple[Steps, Findings]:
    steps: Steps = {}
    findings: Findings = {}
    for frame, (numbers, names, found, severities) in plugin_fields(tshark.path, copy, *FIELDS).items():
        assert len(numbers) == len(names) and len(found) == len(severities), frame
        if numbers:
            steps[frame] = [(int(n), name) for n, name in zip(numbers, names, strict=True)]
        if found:
            findings[frame] = list(zip(found, severities, strict=True))
    return steps, findings


Result = tuple[str, Steps, Findings, Steps, Findings]


@pytest.fixture(scope="session")
def roundtrip(
    tshark: Tshark, annotated: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> list[Result]:
    captures = roundtrip_captures()
    copies = [annotated(capture) for capture in captures]  # explains (cached) and writes, one by one
    # One tshark run for all: pcapng sections may follow each other in one file, and Wireshark
    # numbers the frames of the second section after those of the first.
    joined = tmp_path_factory.mktemp("joined") / "all.pcapng"
    offsets: list[int] = []
    counts: list[int] = []
    with open(joined, "wb") as out:
        for copy in copies:
            with open(copy, "rb") as src:
                counts.append(pcapng.frame_count(src))
            offsets.append(sum(counts[:-1]))
            out.write(copy.read_bytes())
    steps, findings = shown(tshark, joined)
    results = []
    for capture, start, count in zip(captures, offsets, counts, strict=True):
        want_steps, want_findings = expected(explained_with_keys(capture))
        local = range(start + 1, start + count + 1)
        got_steps = {n - start: v for n, v in steps.items() if n in local}
        got_findings = {n - start: v for n, v in findings.items() if n in local}
        results.append((capture.name, want_steps, want_findings, got_steps, got_findings))
    return results


def test_every_capture_shows_explains_steps_frame_by_frame(roundtrip: list[Result]) -> None:
    differences = {name: (want, got) for name, want, _, got, _ in roundtrip if want != got}
    assert not differences
    assert len(roundtrip) >= 50
    assert sum(len(r[1]) for r in roundtrip) > 2000  # frames with a step: the comparison covered the corpus
    assert any(len(steps) > 1 for r in roundtrip for steps in r[1].values())  # frames with several steps


def test_every_capture_shows_every_finding_with_its_severity(roundtrip: list[Result]) -> None:
    differences = {name: (want, got) for name, _, want, _, got in roundtrip if want != got}
    assert not differences
    names = {finding for r in roundtrip for found in r[2].values() for finding, _ in found}
    assert len(names) >= 15  # session-level findings too, not only frame-local ones


@pytest.mark.parametrize(
    ("capture", "table"), [(EXAMPLES / "plain.pcapng", PLAIN), (DATA / "pipelining.pcapng", PIPELINING)]
)
def test_hand_written_steps(
    capture: Path, table: Steps, tshark: Tshark, annotated: Callable[[Path], Path]
) -> None:
    steps, findings = shown(tshark, annotated(capture))
    assert steps == table
    assert expected(explained(str(capture))[1])[0] == table
    starts = {9} if capture.name == "plain.pcapng" else {9, 13}
    message = 17 if capture.name == "plain.pcapng" else 22  # the (last) message: issue 9's mail_cleartext
    assert findings == {**{n: [("starttls_not_used", "warning")] for n in starts}, message: [("mail_cleartext", "warning")]}

"""Annotated pcapng: every SMTP frame's comment, read back with tshark, is its explanation."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from smtpdoc import annotate
from smtpdoc.annotate import (
    COLUMN_FORMAT,
    DISPLAY_FILTER,
    annotate_capture,
    frame_comments,
    read_comments,
    session_comments,
)
from smtpdoc.explain import Settings
from smtpdoc.tshark import Tshark

from conftest import DATA, EXAMPLES, ZEEK, explained, run_cli

CASES = [
    EXAMPLES / "plain.pcapng",
    EXAMPLES / "starttls-dsb.pcapng",
    DATA / "pipelining.pcapng",
    DATA / "subject-script.pcapng",
]


@pytest.mark.parametrize("capture", CASES, ids=lambda p: p.name)
def test_comments_read_back_equal_the_explanations(capture: Path, tshark: Tshark, tmp_path: Path) -> None:
    out = tmp_path / "annotated.pcapng"
    done = annotate_capture(str(capture), str(out), tshark, Settings())
    _, sessions = explained(str(capture))
    expected, count = frame_comments(sessions)
    assert count == len(sessions) >= 1
    assert done.comments == expected
    back = read_comments(tshark, str(out))
    assert back == {frame: [comment] for frame, comment in expected.items()}
    for session in sessions:
        for position, step in enumerate(session.steps, 1):
            for frame in step.frames:
                comment = back[frame][0]
                if f"step {position} {step.name}" in comment:
                    assert " ".join(step.explanation.split()) in comment
                    assert step.title in comment


def test_a_frame_named_by_a_finding_carries_the_finding(tshark: Tshark, tmp_path: Path) -> None:
    capture = DATA / "pipelining.pcapng"
    _, sessions = explained(str(capture))
    flagged = [(f, frame) for s in sessions for f in s.findings for frame in f.frames]
    if not flagged:
        pytest.skip("pipelining.pcapng has no finding today")
    out = tmp_path / "annotated.pcapng"
    annotate_capture(str(capture), str(out), tshark, Settings())
    back = read_comments(tshark, str(out))
    for finding, frame in flagged:
        assert f"smtpdoc finding {finding.severity} {finding.name}: {finding.title}" in back[frame][0]
        assert " ".join(finding.explanation.split()) in back[frame][0]


def test_decrypted_steps_win_over_the_encrypted_umbrella() -> None:
    _, sessions = explained(str(EXAMPLES / "starttls-dsb.pcapng"))
    comments = session_comments(sessions[0])
    inner = [s for s in sessions[0].steps if s.inside_tls]
    for step in inner:
        for frame in step.frames:
            assert "step 8 encrypted" not in comments[frame] or not step.frames
            assert step.name in comments[frame]


def test_frames_outside_every_step_get_no_comment(tshark: Tshark, tmp_path: Path) -> None:
    capture = EXAMPLES / "plain.pcapng"
    out = tmp_path / "annotated.pcapng"
    done = annotate_capture(str(capture), str(out), tshark, Settings())
    back = read_comments(tshark, str(out))
    assert set(back) == set(done.comments)
    total = int(
        subprocess.run(
            [tshark.path, "-r", str(capture), "-T", "fields", "-e", "frame.number"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[-1]
    )
    assert len(back) < total  # the bare ACKs carry nothing


def test_many_comments_are_written_in_several_editcap_passes(
    tshark: Tshark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(annotate, "BATCH_BYTES", 2_000)
    capture = EXAMPLES / "plain.pcapng"
    out = tmp_path / "annotated.pcapng"
    done = annotate_capture(str(capture), str(out), tshark, Settings())
    assert len(annotate._batches(done.comments)) > 3
    assert read_comments(tshark, str(out)) == {f: [c] for f, c in done.comments.items()}


def test_profile_filter_and_column_work_on_this_tshark(tshark: Tshark, tmp_path: Path) -> None:
    out = tmp_path / "annotated.pcapng"
    done = annotate_capture(str(EXAMPLES / "plain.pcapng"), str(out), tshark, Settings())
    column = f'gui.column.format:"No.","%m","Comment","{COLUMN_FORMAT}"'
    shown = subprocess.run(
        [tshark.path, "-r", str(out), "-Y", DISPLAY_FILTER, "-o", column],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(shown) == len(done.comments)
    assert all("smtpdoc step" in line for line in shown)


@pytest.mark.skipif(not ZEEK.is_dir(), reason="the shared Zeek corpus is not beside this checkout")
def test_a_pcap_file_becomes_an_annotated_pcapng(tshark: Tshark, tmp_path: Path) -> None:
    out = tmp_path / "smtp-annotated.pcapng"
    done = annotate_capture(str(ZEEK / "traces" / "smtp.pcap"), str(out), tshark, Settings())
    assert out.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # pcapng section header block
    assert read_comments(tshark, str(out)) == {f: [c] for f, c in done.comments.items()}


def test_cli_annotate_writes_the_copy_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "a.pcapng"
    done = run_cli("annotate", str(EXAMPLES / "plain.pcapng"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.exists() and "frames of 1 SMTP session(s) carry a comment" in done.stderr
    quiet = run_cli("annotate", str(EXAMPLES / "plain.pcapng"), "-o", str(out), "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_cli_annotate_refuses_to_overwrite_the_capture(tmp_path: Path) -> None:
    capture = tmp_path / "c.pcapng"
    capture.write_bytes((EXAMPLES / "plain.pcapng").read_bytes())
    done = run_cli("annotate", str(capture), "-o", str(capture))
    assert done.returncode == 2
    assert "is the capture itself" in done.stderr

"""Annotated pcapng: every SMTP frame carries its words and its data comment, read back with
tshark; annotating again replaces smtpdoc's comments and keeps everybody else's."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from smtpdoc import annotate, pcapng
from smtpdoc.annotate import DISPLAY_FILTER, annotate_capture, frame_comments, session_comments
from smtpdoc.explain import Settings
from smtpdoc.tshark import Tshark

from conftest import DATA, EXAMPLES, PLUGIN_ON, ZEEK, explained, run_cli

CASES = [
    EXAMPLES / "plain.pcapng",
    EXAMPLES / "starttls-dsb.pcapng",
    DATA / "pipelining.pcapng",
    DATA / "subject-script.pcapng",
]


def tshark_comments(tshark: Tshark, capture: Path) -> dict[int, list[str]]:
    """Frame number → its packet comments, as tshark reads them (`frame.comment`)."""
    return annotate.read_comments(tshark, str(capture))


@pytest.mark.parametrize("capture", CASES, ids=lambda p: p.name)
def test_comments_read_back_are_the_words_and_the_data(capture: Path, tshark: Tshark, tmp_path: Path) -> None:
    out = tmp_path / "annotated.pcapng"
    done = annotate_capture(str(capture), str(out), tshark, Settings())
    _, sessions = explained(str(capture))
    words, tokens, count = frame_comments(sessions)
    assert count == done.sessions == len(sessions) >= 1
    assert done.comments == words and done.tokens == tokens
    back = tshark_comments(tshark, out)
    assert back == {frame: [text, tokens[frame]] for frame, text in words.items()}
    with open(out, "rb") as src:
        assert back == pcapng.read_comments(src)  # our reader agrees with tshark's
    for session in sessions:
        for position, step in enumerate(session.steps, 1):
            for frame in step.frames:
                assert f"{position}.{step.name}" in back[frame][1].split(" p=")[1].split(" ")[0].split(",")
                if f"step {position} {step.name}" in back[frame][0]:
                    assert " ".join(step.explanation.split()) in back[frame][0]


def test_the_data_comment_is_versioned_and_compact() -> None:
    token = annotate.data_token(3, [(5, "mail_from"), (6, "rcpt_to")], [("warning", "error_reply")])
    assert token == f"{annotate.DATA_PREAMBLE} smtpdoc-data/1 s=3 p=5.mail_from,6.rcpt_to f=warning.error_reply"
    # Wireshark's Expert Info cuts a comment at 240 bytes and groups equal texts: all data comments are one line.
    assert len(annotate.DATA_PREAMBLE.encode()) > 240
    assert annotate.is_own(token) and not annotate.is_own("smtpdoc is nice")


def test_a_frame_named_by_a_finding_carries_the_finding(tshark: Tshark, tmp_path: Path) -> None:
    capture = DATA / "pipelining.pcapng"
    _, sessions = explained(str(capture))
    flagged = [(f, frame) for s in sessions for f in s.findings for frame in f.frames]
    assert flagged
    out = tmp_path / "annotated.pcapng"
    annotate_capture(str(capture), str(out), tshark, Settings())
    back = tshark_comments(tshark, out)
    for finding, frame in flagged:
        assert f"smtpdoc finding {finding.severity} {finding.name}: {finding.title}" in back[frame][0]
        assert f"{finding.severity}.{finding.name}" in back[frame][1]


def test_decrypted_steps_win_over_the_encrypted_umbrella_in_words_not_in_data() -> None:
    _, sessions = explained(str(EXAMPLES / "starttls-dsb.pcapng"))
    words, tokens = session_comments(sessions[0])
    umbrella = next(n for n, s in enumerate(sessions[0].steps, 1) if s.name == "encrypted")
    inner = [s for s in sessions[0].steps if s.inside_tls]
    assert inner
    for step in inner:
        for frame in step.frames:
            assert "encrypted" not in words[frame].split(":")[0]
            assert f"{umbrella}.encrypted" in tokens[frame]  # the data names every step of the frame


def _secrets_blocks(path: Path) -> int:
    data = path.read_bytes()
    at, count = 0, 0
    while at < len(data):
        kind, length = struct.unpack_from("<II", data, at)
        count += kind == 0x0000000A
        at += length
    return count


@pytest.mark.parametrize("capture", [EXAMPLES / "starttls-dsb.pcapng", EXAMPLES / "plain.pcapng"], ids=lambda p: p.name)
def test_annotating_twice_equals_annotating_once_and_keeps_the_users_comments(
    capture: Path, tshark: Tshark, tmp_path: Path
) -> None:
    mine = tmp_path / "mine.pcapng"
    with open(capture, "rb") as src, open(mine, "wb") as dst:
        pcapng.rewrite_comments(src, dst, {4: ["my note on the greeting"], 2: ["a SYN-ACK note"]}, annotate.is_own)
    once, twice = tmp_path / "once.pcapng", tmp_path / "twice.pcapng"
    annotate_capture(str(mine), str(once), tshark, Settings())
    annotate_capture(str(once), str(twice), tshark, Settings())
    first, second = tshark_comments(tshark, once), tshark_comments(tshark, twice)
    assert first == second
    assert first[4][0] == "my note on the greeting" and len(first[4]) == 3
    assert first[2][0] == "a SYN-ACK note"
    assert _secrets_blocks(twice) == _secrets_blocks(capture)
    if capture.name == "starttls-dsb.pcapng":
        assert _secrets_blocks(twice) == 1
        inner = subprocess.run(
            [tshark.path, "-r", str(twice), "-Y", "smtp && tls", "-T", "fields", "-e", "frame.number"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert len(inner) >= 5  # still decrypted with the embedded keys


def test_frames_outside_every_step_get_no_comment(tshark: Tshark, tmp_path: Path) -> None:
    capture = EXAMPLES / "plain.pcapng"
    out = tmp_path / "annotated.pcapng"
    done = annotate_capture(str(capture), str(out), tshark, Settings())
    back = tshark_comments(tshark, out)
    assert set(back) == set(done.comments) == set(range(1, 23)) - {5, 7}  # the bare ACKs carry nothing


def test_profile_filter_and_comment_column_show_the_words_only(tshark: Tshark, tmp_path: Path) -> None:
    out = tmp_path / "annotated.pcapng"
    done = annotate_capture(str(EXAMPLES / "plain.pcapng"), str(out), tshark, Settings())
    column = 'gui.column.format:"No.","%m","Comment","%Cus:smtpdoc.comment:0:R"'
    shown = subprocess.run(
        [tshark.path, *PLUGIN_ON, "-r", str(out), "-Y", DISPLAY_FILTER, "-o", column],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(shown) == len(done.comments)
    assert all("smtpdoc step" in line and "smtpdoc data" not in line for line in shown)


@pytest.mark.skipif(not ZEEK.is_dir(), reason="the shared Zeek corpus is not beside this checkout")
def test_a_pcap_file_becomes_an_annotated_pcapng(tshark: Tshark, tmp_path: Path) -> None:
    out = tmp_path / "smtp-annotated.pcapng"
    done = annotate_capture(str(ZEEK / "traces" / "smtp.pcap"), str(out), tshark, Settings())
    assert out.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # pcapng section header block
    assert tshark_comments(tshark, out) == {f: [c, done.tokens[f]] for f, c in done.comments.items()}


def test_a_big_endian_pcapng_is_rewritten_in_its_own_byte_order(tshark: Tshark, tmp_path: Path) -> None:
    def block(kind: int, body: bytes) -> bytes:
        return struct.pack(">II", kind, len(body) + 12) + body + struct.pack(">I", len(body) + 12)

    packet = bytes(14)  # an Ethernet header of zeros
    shb = block(0x0A0D0D0A, struct.pack(">IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = block(1, struct.pack(">HHI", 1, 0, 0))
    epb = block(6, struct.pack(">IIIII", 0, 0, 0, len(packet), len(packet)) + packet + b"\0\0")
    src, out = tmp_path / "be.pcapng", tmp_path / "be-annotated.pcapng"
    src.write_bytes(shb + idb + epb + epb)
    with open(src, "rb") as fin, open(out, "wb") as fout:
        assert pcapng.rewrite_comments(fin, fout, {2: ["two"]}, annotate.is_own) == ({2}, False)
    assert tshark_comments(tshark, out) == {2: ["two"]}
    assert out.read_bytes()[: len(shb + idb + epb)] == shb + idb + epb  # untouched blocks stay byte for byte


def test_a_comment_longer_than_an_option_is_cut_between_characters() -> None:
    assert pcapng.utf8_prefix("aé" * 40_000, 65_535) == ("aé" * 21_845).encode()  # 65,535 bytes
    assert len(pcapng.utf8_prefix("é" * 40_000, 65_535)) == 65_534  # not half a character


def test_a_capture_cut_inside_a_packet_is_annotated_up_to_there(tmp_path: Path, tshark: Tshark) -> None:
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes((EXAMPLES / "plain.pcapng").read_bytes()[:-10])  # inside the last block
    out = tmp_path / "cut-annotated.pcapng"
    done = run_cli("annotate", str(cut), "-o", str(out))
    assert done.returncode == 5, done.stderr
    assert "is cut short; annotated what could be read" in done.stderr
    assert set(tshark_comments(tshark, out)) == set(range(1, 23)) - {5, 7}  # frame 23 was the cut one
    with open(tmp_path / "empty.pcapng", "wb"), open(tmp_path / "empty.pcapng", "rb") as src:
        with open(tmp_path / "x.pcapng", "wb") as dst, pytest.raises(pcapng.PcapngError):
            pcapng.rewrite_comments(src, dst, {}, annotate.is_own)


def test_cli_annotate_writes_the_copy_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "a.pcapng"
    done = run_cli("annotate", str(EXAMPLES / "plain.pcapng"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.exists() and "20 frames of 1 SMTP session(s) carry smtpdoc's comments" in done.stderr
    quiet = run_cli("annotate", str(EXAMPLES / "plain.pcapng"), "-o", str(out), "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_cli_annotate_into_a_missing_folder_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "a.pcapng"
    done = run_cli("annotate", str(EXAMPLES / "plain.pcapng"), "-o", str(out))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "does not exist" in done.stderr
    assert not (tmp_path / "no").exists()


def test_cli_annotate_refuses_to_overwrite_the_capture(tmp_path: Path) -> None:
    capture = tmp_path / "c.pcapng"
    capture.write_bytes((EXAMPLES / "plain.pcapng").read_bytes())
    done = run_cli("annotate", str(capture), "-o", str(capture))
    assert done.returncode == 2
    assert "is the capture itself" in done.stderr

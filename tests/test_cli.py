"""Bad input is normal input: one line on stderr, a documented exit code, never a traceback."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DATA, EXAMPLES, ZEEK, run_cli


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


# -- errors before output, files whole or absent, documented exit codes -----------------------------------
MANY = ZEEK / "traces" / "smtp-many-addresses.pcap.gz"
BIG_SUBJECT = ZEEK / "traces" / "mime-header-size-limit.pcap.gz"


def test_not_a_capture_prints_no_report_and_writes_no_file(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes, not a capture\n" * 20)
    done = run_cli("explain", str(notes))
    assert done.returncode == 4 and done.stdout == ""
    assert "isn't a capture file" in _one_line_error(done)
    done = run_cli("explain", str(notes), "-o", str(tmp_path / "x.html"))
    assert done.returncode == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    earlier = tmp_path / "earlier.json"
    earlier.write_text("yesterday's report\n")
    assert run_cli("explain", str(notes), "-o", str(earlier)).returncode == 4
    assert earlier.read_text() == "yesterday's report\n"  # a failed run leaves the old report as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier.json", "notes.txt"]


def test_output_into_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("explain", str(EXAMPLES / "plain.pcapng"), "-o", str(tmp_path / "nope" / "out.json"))
    assert done.returncode == 2
    line = _one_line_error(done)
    assert "does not exist" in line and "internal error" not in line


def test_annotate_into_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("annotate", str(EXAMPLES / "plain.pcapng"), "-o", str(tmp_path / "nope" / "a.pcapng"))
    assert done.returncode == 2
    assert "does not exist" in _one_line_error(done)


def test_unknown_suffix_needs_format(tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    done = run_cli("explain", str(EXAMPLES / "plain.pcapng"), "-o", str(out))
    assert done.returncode == 2 and "--format" in _one_line_error(done)
    assert not out.exists()
    done = run_cli("explain", str(EXAMPLES / "plain.pcapng"), "-o", str(out), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["schema"] == "smtpdoc/1"


def test_report_file_is_renamed_into_place_whole(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    out.write_text("the previous report\n")
    done = run_cli("explain", str(EXAMPLES / "plain.pcapng"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("# SMTP walkthrough")
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]  # no temporary file left


def test_missing_stream_says_so_and_exits_2() -> None:
    done = run_cli("explain", str(EXAMPLES / "plain.pcapng"), "--stream", "999999")
    assert done.returncode == 2 and done.stdout == ""
    assert "no TCP stream 999999" in _one_line_error(done)


def test_keylog_that_decrypts_nothing_is_named_in_a_warning() -> None:
    keylog = EXAMPLES / "starttls-ipv6.keylog"  # another session's keys
    done = run_cli("explain", str(EXAMPLES / "starttls.pcapng"), "--keylog", str(keylog), "--format", "json")
    assert done.returncode == 0
    assert f"key log '{keylog}' decrypted nothing" in _one_line_error(done)
    done = run_cli("explain", str(EXAMPLES / "starttls.pcapng"), "--keylog", str(EXAMPLES / "starttls.keylog"))
    assert "decrypted nothing" not in done.stderr


@pytest.fixture(scope="module")
def busy_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 STARTTLS sessions: tshark reads for seconds after the first one, and the report is long."""
    sys.path.insert(0, str(EXAMPLES.parent / "bench"))
    import make_capture

    capture = tmp_path_factory.mktemp("busy") / "busy.pcapng"
    make_capture.write_capture(EXAMPLES / "starttls.pcapng", 400, capture)
    return capture


def test_broken_pipe_exits_quietly_with_141(busy_capture: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpdoc", "explain", str(busy_capture)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    assert proc.wait(timeout=120) == 141
    assert proc.stderr.read() == b""


def test_ctrl_c_exits_130_and_leaves_no_partial_file(busy_capture: Path, tmp_path: Path) -> None:
    capture = busy_capture
    reports = tmp_path / "reports"
    reports.mkdir()
    out = reports / "out.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpdoc", "explain", str(capture), "-o", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(reports.iterdir()) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)  # the temporary file appears once tshark has sent the first session
    assert list(reports.iterdir()) and proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert list(reports.iterdir()) == []
    assert proc.stderr is not None and "interrupted" in proc.stderr.read()


def test_exit_codes_keep_one_precedence() -> None:
    from smtpdoc.errors import first_exit_code

    assert first_exit_code([0, 7, 5]) == 5  # cut short beats --fail-on
    assert first_exit_code([5, 4]) == 4  # not a capture beats cut short
    assert first_exit_code([4, 3]) == 3 and first_exit_code([3, 2]) == 2
    assert first_exit_code([]) == 0


def test_findings_change_the_exit_code_only_under_fail_on(tmp_path: Path) -> None:
    plain = str(EXAMPLES / "plain.pcapng")  # one warning: STARTTLS offered but not used
    assert run_cli("explain", plain, "--format", "json").returncode == 0
    assert run_cli("explain", plain, "--format", "json", "--fail-on", "warning").returncode == 7
    assert run_cli("explain", plain, "--format", "json", "--fail-on", "critical").returncode == 0
    whole = (EXAMPLES / "plain.pcapng").read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    assert run_cli("explain", str(cut), "--format", "json", "--fail-on", "info").returncode == 5


def test_no_color_and_force_color(tmp_path: Path) -> None:
    plain = str(EXAMPLES / "plain.pcapng")
    assert "\x1b[" in run_cli("explain", plain, env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[" not in run_cli("explain", plain, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout
    assert "\x1b[" in run_cli("explain", plain, "--color", env={"NO_COLOR": "1"}).stdout  # the flag wins


def test_profile_uninstall_is_idempotent_and_keeps_what_the_user_changed(tmp_path: Path) -> None:
    env = {"WIRESHARK_CONFIG_DIR": str(tmp_path / "ws")}
    for _ in range(2):
        assert run_cli("profile", "install", env=env).returncode == 0
    profile = tmp_path / "ws" / "profiles" / "smtpdoc"
    done = run_cli("profile", "uninstall", env=env)
    assert done.returncode == 0, done.stderr
    assert not profile.exists() and not (tmp_path / "ws" / "plugins").exists()
    done = run_cli("profile", "uninstall", env=env)
    assert done.returncode == 0 and "nothing to remove" in done.stdout
    assert run_cli("profile", "install", env=env).returncode == 0
    (profile / "recent").write_text("# the user's own recent settings\n")
    done = run_cli("profile", "uninstall", env=env)
    assert done.returncode == 0 and "kept" in done.stdout
    assert sorted(p.name for p in profile.iterdir()) == ["recent"]


# -- a terminal a person reads ---------------------------------------------------------------------------
def test_teaching_text_is_given_once_per_run() -> None:
    out = run_cli("explain", str(EXAMPLES / "plain.pcapng")).stdout
    rcpt = "Each RCPT TO names one envelope recipient"
    assert out.count(rcpt) == 1
    assert "7. Recipient (RCPT TO)  frames 13-14  +0.002s  (explained at step 6)" in out
    assert out.count("2.0.0: Other undefined status") == 1
    assert len(out.splitlines()) < 145  # 156 before; the walkthrough stays:
    for title in ("TCP handshake", "Server greeting", "Sender (MAIL FROM)", "Start of message (DATA)", "Goodbye"):
        assert title in out


def test_later_sessions_point_back_to_the_first_explanation() -> None:
    out = run_cli("explain", str(ZEEK / "traces" / "smtp.pcap")).stdout
    assert out.count("In SMTP the server speaks first") == 1
    assert "(explained at session 1, step 2)" in out


def test_600_recipients_are_counted_not_listed() -> None:
    done = run_cli("explain", str(MANY))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) < 150
    assert any("… 597 more recipients (frames 26-2412), all accepted (250)" in line for line in lines)
    assert "… 595 more recipients, all accepted" in done.stdout


def test_brief_is_brief_on_a_390_kib_subject() -> None:
    done = run_cli("explain", str(BIG_SUBJECT), "--brief")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.encode()) < 20_000
    assert "(cut: 200,013 characters in all)" in " ".join(done.stdout.split())  # the subject, its full length
    plain = run_cli("explain", str(EXAMPLES / "plain.pcapng"), "--brief").stdout
    assert plain.count("SIZE 35882577") == 1 and "S: 250-PIPELINING" not in plain  # the EHLO list once


def test_binary_is_shown_as_escaped_bytes() -> None:
    out = run_cli("explain", str(DATA / "not-smtp-on-25.pcapng"), "--brief").stdout
    assert "'\\x8f\\xa3\\x00\\x07\\xfe\\xff" in out
    assert "£" not in out and "þ" not in out


def test_certificate_is_shown_in_the_terminal() -> None:
    from conftest import sessions_of

    keylog = str(EXAMPLES / "starttls.keylog")  # TLS 1.3 sends the certificate encrypted
    (session,) = sessions_of(EXAMPLES / "starttls.pcapng", keylog=keylog)
    assert session.tls is not None and session.tls.certificate
    out = run_cli("explain", str(EXAMPLES / "starttls.pcapng"), "--brief", "--keylog", keylog).stdout
    assert f"Certificate: {session.tls.certificate['subject']}, issued by" in out


def test_summary_table_ends_a_multi_session_run_and_summary_prints_only_it() -> None:
    out = run_cli("explain", str(ZEEK / "traces" / "smtp.pcap")).stdout
    table = out[out.index("Summary: 2 session(s)") :].splitlines()
    assert table[1].split() == ["#", "client", "server", "TLS", "messages", "findings"]
    assert table[2].split()[:5] == ["1", "10.10.1.4:1470", "74.53.140.153:25", "no", "1"]
    from conftest import sessions_of

    first = sessions_of(ZEEK / "traces" / "smtp.pcap")[0]
    severities = [f.severity for f in first.findings]
    counts = ", ".join(f"{severities.count(s)} {s}" for s in ("critical", "warning", "notice", "info") if s in severities)
    assert "critical" in severities and table[2].endswith(counts)
    only = run_cli("explain", str(ZEEK / "traces" / "smtp.pcap"), "--summary").stdout.splitlines()
    assert only == table


def test_findings_only_and_min_severity_filter() -> None:
    capture = str(ZEEK / "traces" / "smtp.pcap")
    out = run_cli("explain", capture, "--findings-only").stdout
    assert "TCP handshake" not in out and "[critical]" in out and "[warning]" in out
    out = run_cli("explain", capture, "--findings-only", "--min-severity", "critical").stdout
    assert "[critical]" in out and "[warning]" not in out
    report = json.loads(run_cli("explain", capture, "--format", "json", "--min-severity", "critical").stdout)
    assert {f["severity"] for s in report["sessions"] for f in s["findings"]} == {"critical"}


# -- README: every example command runs as written on the bundled files -----------------------------------------
def readme_commands() -> list[tuple[str, int]]:
    """(command, expected exit code) for each smtpdoc command in README's sh blocks."""
    text = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            command = re.split(r"\s#\s", line, maxsplit=1)[0].strip()
            comment = line[len(command) :]
            if command.startswith((".venv/bin/smtpdoc ", ".venv/bin/python -m smtpdoc ")):
                code = re.search(r"\bexit (\d+)", comment)
                found.append((command, int(code[1]) if code else 0))
    return found


def test_readme_has_example_commands() -> None:
    commands = [c for c, _ in readme_commands()]
    assert len(commands) >= 10
    for option in ("--brief", "--summary", "--findings-only", "--fail-on", "--format zeek", "--format csv"):
        assert any(option in c for c in commands), option


@pytest.mark.parametrize(("command", "code"), readme_commands(), ids=lambda v: str(v)[:70])
def test_readme_command_runs_as_written(command: str, code: int, tmp_path: Path) -> None:
    import shlex

    root = EXAMPLES.parent
    for name in ("examples", "tests", "dissector", ".venv"):
        (tmp_path / name).symlink_to(root / name)  # outputs land in tmp_path, not in the checkout
    env = {**os.environ, "WIRESHARK_CONFIG_DIR": str(tmp_path / "wireshark"), "HOME": str(tmp_path)}
    gui = shlex.split(command)[1] == "wireshark"
    if gui:  # it would open Wireshark and wait for it to close: run it as written, with no display
        env = {k: v for k, v in env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        code = 12  # the README's table: Wireshark cannot be opened
    done = subprocess.run(
        shlex.split(command), cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    if gui:
        assert "no display" in done.stderr
    for output in re.findall(r"-o (\S+)", command):
        assert (tmp_path / output).stat().st_size > 0, output
        ignored = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", output], check=False)
        assert ignored.returncode == 0, f"{output}, written by a README example, is not git-ignored"

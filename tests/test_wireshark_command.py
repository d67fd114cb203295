"""`smtpdoc wireshark CAPTURE`: annotate into a temporary copy, install the profile when needed,
open the real Wireshark (under Xvfb here); one line and exit 12 when it cannot be opened."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smtpdoc.wireshark.lua import render_lua

from conftest import EXAMPLES, run_cli

WIRESHARK = shutil.which("wireshark")


def test_without_a_display_it_is_exit_12_in_one_line(tmp_path: Path) -> None:
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": "", "WIRESHARK_CONFIG_DIR": str(tmp_path / "ws")}
    done = run_cli("wireshark", str(EXAMPLES / "plain.pcapng"), "--wireshark", sys.executable, env=env)
    assert done.returncode == 12
    assert done.stderr.count("\n") == 1 and "no display to open Wireshark on" in done.stderr
    assert not (tmp_path / "ws").exists()  # nothing installed, nothing annotated


def test_without_the_binary_it_is_exit_12_in_one_line(tmp_path: Path) -> None:
    done = run_cli("wireshark", str(EXAMPLES / "plain.pcapng"), "--wireshark", str(tmp_path / "no-wireshark"))
    assert done.returncode == 12
    assert done.stderr.count("\n") == 1 and f"no wireshark binary at '{tmp_path / 'no-wireshark'}'" in done.stderr


SCRIPT = """
"$SMTPDOC" wireshark "$CAPTURE" 2> "$OUT/stderr.txt" &
RUN=$!
for i in $(seq 1 60); do
  xdotool search --name "plain-smtpdoc.pcapng" > "$OUT/windows.txt" 2>/dev/null && break
  sleep 0.5
done
sleep 2
xdotool windowfocus --sync "$(head -1 "$OUT/windows.txt")" 2>/dev/null
xdotool key ctrl+q
wait $RUN
echo $? > "$OUT/exit.txt"
"""


@pytest.mark.skipif(WIRESHARK is None or shutil.which("xvfb-run") is None, reason="needs wireshark-qt and xvfb")
def test_it_installs_the_profile_annotates_and_opens_wireshark(tmp_path: Path) -> None:
    config = tmp_path / "ws"
    env = {
        **os.environ,
        "WIRESHARK_CONFIG_DIR": str(config),
        "SMTPDOC": str(Path(sys.executable).with_name("smtpdoc")),
        "CAPTURE": str(EXAMPLES / "plain.pcapng"),
        "OUT": str(tmp_path),
    }
    subprocess.run(["timeout", "120", "xvfb-run", "-a", "sh", "-c", SCRIPT], env=env, check=False, capture_output=True)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert (tmp_path / "windows.txt").read_text().split(), f"no Wireshark window for the annotated copy: {stderr}"
    assert (tmp_path / "exit.txt").read_text().strip() == "0", stderr
    assert "installed the 'smtpdoc' profile" in stderr
    assert "20 frames of 1 SMTP session(s) annotated" in stderr
    assert (config / "plugins" / "smtpdoc.lua").read_text() == render_lua()
    assert (config / "profiles" / "smtpdoc" / "colorfilters").is_file()
    assert "gui.last_used_profile: smtpdoc" in (config / "recent_common").read_text()
    assert not list(Path("/tmp").glob("smtpdoc-wireshark-*/plain-smtpdoc.pcapng"))  # the copy is gone

"""The real Wireshark GUI under Xvfb opens the STARTTLS example with the smtpdoc profile.

Artifacts: artifacts/wireshark-*.png (git-ignored) and docs/wireshark-screenshot.png.
Needs Debian packages: wireshark-qt xvfb xauth x11-apps imagemagick xdotool.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from smtpdoc.wireshark import install

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "zeek" / "traces"
WIRESHARK = shutil.which("wireshark")
TOOLS = ("xvfb-run", "import", "xdotool", "convert")

pytestmark = pytest.mark.skipif(WIRESHARK is None, reason="no wireshark binary (apt-get install wireshark-qt)")

SCRIPT = """
QT_QPA_PLATFORM=xcb "$WIRESHARK" -C smtpdoc -r "$CAPTURE" -g 9 >/dev/null 2>&1 &
WS=$!
for i in $(seq 1 40); do
  xdotool search --name "$WINDOW" > "$OUT/windows.txt" 2>/dev/null && break
  sleep 0.5
done
sleep 3
import -window root "$OUT/wireshark-starttls.png"
kill $WS
wait $WS
"""


def _capture() -> Path:
    example = REPO / "examples" / "starttls.pcapng"
    if example.exists():
        return example
    return CORPUS / "smtp.pcap"


def test_wireshark_shows_the_walkthrough(tmp_path: Path) -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    assert not missing, f"wireshark is installed but {missing} are not (apt-get install xvfb xauth imagemagick xdotool)"
    config = tmp_path / "config"
    install.install(config, config / "plugins")
    (config / "recent_common").write_text(
        "gui.geometry_main_x: 0\ngui.geometry_main_y: 0\ngui.geometry_main_width: 1600\n"
        "gui.geometry_main_height: 1000\ngui.geometry_main_maximized: FALSE\n"
    )
    artifacts = REPO / "artifacts"
    artifacts.mkdir(exist_ok=True)
    capture = _capture()
    env = {
        **os.environ,
        "WIRESHARK_CONFIG_DIR": str(config),
        "WIRESHARK": str(WIRESHARK),
        "CAPTURE": str(capture),
        "WINDOW": capture.name,
        "OUT": str(artifacts),
    }
    subprocess.run(
        ["timeout", "90", "xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", "sh", "-c", SCRIPT],
        env=env,
        check=False,
        capture_output=True,
    )
    shot = artifacts / "wireshark-starttls.png"
    assert shot.is_file(), "no screenshot was taken"
    assert (artifacts / "windows.txt").read_text().split(), "xdotool found no Wireshark window"
    colours = subprocess.run(
        ["convert", str(shot), "-format", "%k", "info:"], capture_output=True, text=True, check=True
    ).stdout
    assert int(colours) > 50, "the screenshot is (nearly) uniform"
    # The step colours of the STARTTLS exchange are on screen (rows 9 and 10 of the list).
    histogram = subprocess.run(
        ["convert", str(shot), "-format", "%c", "histogram:info:"], capture_output=True, text=True, check=True
    ).stdout.lower()
    for colour in ("#f9c08a", "#cdebc5", "#fbeea0"):  # Ready to start TLS, greeting, TLS handshake
        assert colour in histogram, f"step colour {colour} is not in the screenshot"
    docs = REPO / "docs"
    docs.mkdir(exist_ok=True)
    shutil.copyfile(shot, docs / "wireshark-screenshot.png")

"""The real Wireshark GUI under Xvfb opens an annotated STARTTLS capture with the smtpdoc profile,
with the explanation subtree of the STARTTLS frame open.

The screenshot goes to the test's tmp_path; `pytest --update-golden` also copies it to
docs/wireshark-screenshot.png. Needs Debian packages: wireshark-qt xvfb xauth imagemagick xdotool.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from smtpdoc.wireshark import install

from conftest import EXAMPLES, ROOT

WIRESHARK = shutil.which("wireshark")
TOOLS = ("xvfb-run", "import", "xdotool", "convert")
DOCS_SCREENSHOT = ROOT / "docs" / "wireshark-screenshot.png"

pytestmark = pytest.mark.skipif(WIRESHARK is None, reason="no wireshark binary (apt-get install wireshark-qt)")

# Frame 9 (STARTTLS) selected; a click on the first row of the details pane, End (the last
# top-level item is smtpdoc's post-dissector tree), Shift+Right (expand it and its subtrees),
# End again (scroll to its last explanation line).
SCRIPT = """
QT_QPA_PLATFORM=xcb "$WIRESHARK" -C smtpdoc -r "$CAPTURE" -g 9 >/dev/null 2>&1 &
WS=$!
for i in $(seq 1 40); do
  xdotool search --name "$WINDOW" > "$OUT/windows.txt" 2>/dev/null && break
  sleep 0.5
done
sleep 3
xdotool windowfocus --sync "$(head -1 "$OUT/windows.txt")" 2>/dev/null
xdotool mousemove 200 626 click 1
sleep 0.5
xdotool key End
sleep 0.3
xdotool key shift+Right
sleep 0.3
xdotool key End
sleep 1
import -window root "$OUT/wireshark-starttls.png"
kill $WS
wait $WS
"""


def _colours(image: Path, crop: str | None = None) -> str:
    args = ["convert", str(image), *(["-crop", crop, "+repage"] if crop else []), "-format", "%c", "histogram:info:"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.lower()


def test_wireshark_shows_the_walkthrough(
    tmp_path: Path, annotated: Callable[[Path], Path], request: pytest.FixtureRequest
) -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    assert not missing, f"wireshark is installed but {missing} are not (apt-get install xvfb xauth imagemagick xdotool)"
    config = tmp_path / "config"
    install.install(config, config / "plugins")
    (config / "recent_common").write_text(
        "gui.geometry_main_x: 0\ngui.geometry_main_y: 0\ngui.geometry_main_width: 1600\n"
        "gui.geometry_main_height: 1000\ngui.geometry_main_maximized: FALSE\n"
    )
    capture = annotated(EXAMPLES / "starttls.pcapng")
    env = {
        **os.environ,
        "WIRESHARK_CONFIG_DIR": str(config),
        "WIRESHARK": str(WIRESHARK),
        "CAPTURE": str(capture),
        "WINDOW": capture.name,
        "OUT": str(tmp_path),
    }
    subprocess.run(
        ["timeout", "90", "xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", "sh", "-c", SCRIPT],
        env=env,
        check=False,
        capture_output=True,
    )
    shot = tmp_path / "wireshark-starttls.png"
    assert shot.is_file(), "no screenshot was taken"
    assert (tmp_path / "windows.txt").read_text().split(), "xdotool found no Wireshark window"
    histogram = _colours(shot)
    assert len(histogram.splitlines()) > 50, "the screenshot is (nearly) uniform"
    for colour in ("#f9c08a", "#cdebc5", "#fbeea0"):  # Server answers STARTTLS, greeting, TLS handshake
        assert colour in histogram, f"step colour {colour} is not in the screenshot"
    # The packet details pane holds 7 top-level rows (down to y~740) when nothing is open; the
    # open smtpdoc subtree fills it with text down to its selected last explanation line.
    low = _colours(shot, "690x100+0+860")
    assert "#000000" in low and "#308cc6" in low, "the explanation subtree was not opened in the packet details"
    if request.config.getoption("--update-golden"):
        shutil.copyfile(shot, DOCS_SCREENSHOT)


TOOLBAR_SCRIPT = """
QT_QPA_PLATFORM=xcb "$WIRESHARK" -C smtpdoc -r "$CAPTURE" >/dev/null 2>&1 &
WS=$!
for i in $(seq 1 40); do
  xdotool search --name "$WINDOW" > "$OUT/windows.txt" 2>/dev/null && break
  sleep 0.5
done
sleep 3
import -window root "$OUT/wireshark-1366.png"
kill $WS
wait $WS
"""


def _dark_runs(image: Path, crop: str) -> list[tuple[int, int]]:
    """(first x, last x) of each stretch of text on one toolbar row, words 10+ px apart joined."""
    args = ["convert", str(image), "-crop", crop, "+repage", "-colorspace", "gray", "-threshold", "50%"]
    args += ["-negate", "-scale", f"{crop.split('x')[0]}x1!", "-threshold", "1%", "txt:-"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout.splitlines()[1:]
    dark = [int(line.split(",")[0]) for line in out if "#FFFFFF" in line.upper() or "WHITE" in line.upper()]
    runs: list[tuple[int, int]] = []
    for x in dark:
        if runs and x - runs[-1][1] <= 10:
            runs[-1] = (runs[-1][0], x)
        else:
            runs.append((x, x))
    return runs


def test_the_buttons_fit_a_1366_px_window(tmp_path: Path) -> None:
    config = tmp_path / "config"
    install.install(config, config / "plugins")
    (config / "recent_common").write_text(
        "gui.geometry_main_x: 0\ngui.geometry_main_y: 0\ngui.geometry_main_width: 1366\n"
        "gui.geometry_main_height: 768\ngui.geometry_main_maximized: FALSE\n"
    )
    capture = EXAMPLES / "plain.pcapng"
    env = {**os.environ, "WIRESHARK_CONFIG_DIR": str(config), "WIRESHARK": str(WIRESHARK), "CAPTURE": str(capture)}
    env |= {"WINDOW": capture.name, "OUT": str(tmp_path)}
    subprocess.run(
        ["timeout", "90", "xvfb-run", "-a", "-s", "-screen 0 1366x768x24", "sh", "-c", TOOLBAR_SCRIPT],
        env=env,
        check=False,
        capture_output=True,
    )
    shot = tmp_path / "wireshark-1366.png"
    assert shot.is_file(), "no screenshot was taken"
    runs = _dark_runs(shot, "1366x14+0+70")  # the filter toolbar's text row
    first, last = runs[-1]
    # When buttons do not fit, the row ends in Qt's 5 px wide overflow chevron; here it ends in
    # the last label ("Findings", about 55 px), inside the window.
    assert last - first > 30 and last < 1366, runs[-3:]

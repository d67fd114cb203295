"""`smtpdoc wireshark`: annotate a capture into a temporary pcapng and open it in Wireshark.

The environment comes from the caller (the CLI); the temporary copy is removed when
Wireshark closes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from smtpdoc.annotate import annotate_capture
from smtpdoc.errors import SmtpdocError
from smtpdoc.explain import Settings
from smtpdoc.tshark import Tshark
from smtpdoc.wireshark.install import PLUGIN_NAME, install, personal_config_dir, personal_plugin_dir
from smtpdoc.wireshark.lua import render_lua
from smtpdoc.wireshark.profile import PROFILE_NAME, profile_files


class WiresharkUnavailable(SmtpdocError):
    """Wireshark cannot be opened here (no binary, no display)."""

    exit_code = 12


def find_wireshark(path: str | None) -> str:
    if path:
        if not Path(path).is_file():
            raise WiresharkUnavailable(f"no wireshark binary at '{path}'.")
        return path
    found = shutil.which("wireshark")
    if found is None:
        raise WiresharkUnavailable(
            "no wireshark binary on PATH (Debian/Ubuntu: apt-get install wireshark-qt); "
            "`smtpdoc annotate CAPTURE -o OUT.pcapng` writes the annotated copy without opening it."
        )
    return found


def has_display(env: dict[str, str]) -> bool:
    """X11 or Wayland on Linux and the BSDs; macOS and Windows always have one."""
    if sys.platform == "darwin" or sys.platform.startswith("win"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def _installed_and_current(config_dir: Path, plugin_dir: Path) -> bool:
    profile = config_dir / "profiles" / PROFILE_NAME
    try:
        if (plugin_dir / PLUGIN_NAME).read_text(encoding="utf-8") != render_lua():
            return False
        return all((profile / name).read_text(encoding="utf-8") == text for name, text in profile_files().items())
    except OSError:
        return False


def open_in_wireshark(
    capture: str,
    tshark: Tshark,
    settings: Settings,
    env: dict[str, str],
    home: Path,
    wireshark_path: str | None,
    say: Callable[[str], None],
) -> int:
    """Annotate, install the profile when needed, run Wireshark until it closes; its exit code."""
    binary = find_wireshark(wireshark_path)
    if not has_display(env):
        raise WiresharkUnavailable(
            "no display to open Wireshark on (DISPLAY and WAYLAND_DISPLAY are unset); "
            "`smtpdoc annotate CAPTURE -o OUT.pcapng` writes the annotated copy to open elsewhere."
        )
    config_dir, plugin_dir = personal_config_dir(env, home), personal_plugin_dir(env, home)
    if not _installed_and_current(config_dir, plugin_dir):
        done = install(config_dir, plugin_dir, PROFILE_NAME)
        say(f"installed the '{PROFILE_NAME}' profile in '{done.profile}' and '{done.plugin}'.")
    with tempfile.TemporaryDirectory(prefix="smtpdoc-wireshark-") as scratch:
        output = str(Path(scratch) / (Path(capture).stem + "-smtpdoc.pcapng"))
        annotated = annotate_capture(capture, output, tshark, settings)
        say(
            f"opening '{capture}' in Wireshark: {len(annotated.comments)} frames of "
            f"{annotated.sessions} SMTP session(s) annotated"
            + (" (the capture is cut short: annotated what could be read)." if annotated.cut_short else ".")
        )
        args = [binary, "-C", PROFILE_NAME, "-r", output]
        if settings.keylog:
            args += ["-o", f"tls.keylog_file:{settings.keylog}"]
        for port in settings.decode_as:
            args += ["-d", f"tcp.port=={port},smtp"]
        try:
            return subprocess.run(args, env=env, stdin=subprocess.DEVNULL, check=False).returncode
        except OSError as exc:
            raise WiresharkUnavailable(f"wireshark at '{binary}' could not be run: {exc.strerror}.") from None

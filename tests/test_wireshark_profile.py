"""The generated Wireshark profile: every filter compiles on this tshark, the profile loads
cleanly, colours land on the right frames, and install/uninstall are exact."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from smtpdoc.catalog import load_catalog
from smtpdoc.cli import main
from smtpdoc.wireshark import install, profile
from smtpdoc.wireshark.lua import render_lua

REPO = Path(__file__).resolve().parents[1]
LUA = REPO / "dissector" / "smtpdoc.lua"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "zeek" / "traces"
TSHARK = shutil.which("tshark")
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")


def _capture() -> Path:
    example = REPO / "examples" / "starttls.pcapng"
    if example.exists():
        return example
    if not CORPUS.is_dir():
        pytest.skip(f"neither {example} nor the corpus at {CORPUS} exists")
    return CORPUS / "smtp.pcap"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wsconfig")
    install.install(root, root / "plugins")
    return root


def _env(config: Path) -> dict[str, str]:
    return {**os.environ, "WIRESHARK_CONFIG_DIR": str(config)}


def _uat_unescape(field: str) -> str:
    return re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m[1], 16)), field)


def _filters(files: dict[str, str]) -> list[tuple[str, str]]:
    """(file, expression) for every filter in every generated file."""
    out: list[tuple[str, str]] = []
    for line in files["colorfilters"].splitlines():
        if line.startswith("@"):
            out.append(("colorfilters", line.split("@")[2]))
    for line in files["dfilter_buttons"].splitlines():
        if line.startswith('"'):
            fields = re.findall(r'"((?:[^"\\]|\\.)*)"', line)
            assert len(fields) == 4, line
            out.append(("dfilter_buttons", _uat_unescape(fields[2])))
    for line in files["dfilters"].splitlines():
        if line.startswith('"'):
            out.append(("dfilters", line.split('" ', 1)[1]))
    return out


def test_colour_rules_use_the_catalog_colours_first_bracket_background() -> None:
    files = profile.profile_files()
    lines = [line for line in files["colorfilters"].splitlines() if line.startswith("@")]
    starttls = next(line for line in lines if "smtpdoc.step == 5@" in line)
    # #fcd9b0 * 257 per channel, then black text.
    assert starttls.endswith("@[64764,55769,45232][0,0,0]")
    assert lines[0].startswith("@smtpdoc finding: ")  # findings outrank steps
    assert all(line.count("@") == 3 for line in lines)  # no stray @ that would drop a rule


def test_buttons_are_numbered_in_walkthrough_order_then_all_steps() -> None:
    labels = [label for label, _, _ in profile.buttons(load_catalog())]
    assert labels[:3] == ["1 TCP handshake", "2 Server greeting", "3 Client says hello"]
    assert [int(label.split()[0]) for label in labels[:-1]] == list(range(1, 18))
    assert labels[-1] == "All steps"


def test_macros_exist_in_the_4_0_and_the_4_2_format() -> None:
    files = profile.profile_files()
    assert '"smtpdoc_step","smtpdoc.step == $1"' in files["dfilter_macros"]
    assert '"smtpdoc_finding","smtpdoc.finding == \\x22$1\\x22"' in files["dfilter_macros"]
    assert '"smtpdoc_step" smtpdoc.step == $1' in files["dmacros"]
    assert "%Cus:smtpdoc.step_name:0:R" in files["preferences"]
    assert "gui.filter_toolbar_show: TRUE" in files["recent"]


@needs_tshark
def test_every_filter_compiles_on_tshark() -> None:
    capture = _capture()
    failures = []
    for where, expression in _filters(profile.profile_files()):
        done = subprocess.run(
            [str(TSHARK), "-X", f"lua_script:{LUA}", "-r", str(capture), "-c", "1", "-Y", expression],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            failures.append(f"{where}: {expression!r}: {done.stderr.strip()}")
    assert not failures, "\n".join(failures)


@needs_tshark
def test_profile_loads_without_errors_and_macros_work(config: Path) -> None:
    capture = _capture()
    for expression in ("${smtpdoc_step:5}", "${smtpdoc_finding:error_reply}", "${smtp_cmd:EHLO}"):
        done = subprocess.run(
            [str(TSHARK), "-C", "smtpdoc", "-r", str(capture), "-Y", expression],
            capture_output=True,
            text=True,
            env=_env(config),
            check=False,
        )
        assert done.returncode == 0, done.stderr
        for bad in ("Could not compile", "Error loading table", "Lua:"):
            assert bad not in done.stderr, done.stderr


@needs_tshark
def test_frames_get_their_step_colour(config: Path) -> None:
    capture = _capture()
    psml = subprocess.run(
        [str(TSHARK), "-C", "smtpdoc", "-r", str(capture), "--color", "-T", "psml"],
        capture_output=True,
        text=True,
        env=_env(config),
        check=True,
    ).stdout
    steps = subprocess.run(
        [
            str(TSHARK),
            "-C",
            "smtpdoc",
            "-r",
            str(capture),
            "-T",
            "fields",
            "-e",
            "smtpdoc.step",
            "-e",
            "smtpdoc.finding",
        ],
        capture_output=True,
        text=True,
        env=_env(config),
        check=True,
    ).stdout.splitlines()
    backgrounds = re.findall(r"<packet(?: foreground='#[0-9a-f]{6}' background='(#[0-9a-f]{6})')?>", psml)
    assert len(backgrounds) == len(steps)
    catalog = load_catalog()
    coloured = 0
    for background, line in zip(backgrounds, steps, strict=True):
        step, finding = line.split("\t")
        if step and not finding:
            assert background == catalog.step_by_number(int(step)).colour
            coloured += 1
    assert coloured >= 10


def test_install_honours_xdg_and_uninstall_removes_exactly_what_it_wrote(tmp_path: Path) -> None:
    home = tmp_path / "home"
    xdg = tmp_path / "xdg"
    (xdg / "wireshark" / "profiles").mkdir(parents=True)
    keep = xdg / "wireshark" / "preferences"
    keep.write_text("# the user's own\n")
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(xdg)}
    runner = CliRunner()
    result = runner.invoke(main, ["profile", "install"], env=env)
    assert result.exit_code == 0, result.output
    plugin = home / ".local" / "lib" / "wireshark" / "plugins" / "smtpdoc.lua"
    assert str(xdg / "wireshark" / "profiles" / "smtpdoc") in result.output
    assert str(plugin) in result.output
    assert plugin.read_text() == render_lua()
    manifest = json.loads((xdg / "wireshark" / "profiles" / "smtpdoc" / install.MANIFEST).read_text())
    assert str(plugin) in manifest["files"]
    result = runner.invoke(main, ["profile", "uninstall"], env=env)
    assert result.exit_code == 0, result.output
    assert not plugin.exists() and not (xdg / "wireshark" / "profiles" / "smtpdoc").exists()
    assert keep.exists() and (xdg / "wireshark" / "profiles").is_dir()  # not ours: left alone
    assert not (home / ".local").exists()  # install created it, so uninstall removed it


def test_wireshark_config_dir_wins(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "WIRESHARK_CONFIG_DIR": str(tmp_path / "ws"),
    }
    result = CliRunner().invoke(main, ["profile", "install", "--name", "learn"], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ws" / "profiles" / "learn" / "colorfilters").is_file()
    assert (tmp_path / "ws" / "plugins" / "smtpdoc.lua").is_file()
    assert not (tmp_path / "xdg").exists()


def test_uninstall_without_install_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["profile", "uninstall"], env={"WIRESHARK_CONFIG_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "no smtpdoc installation found" in result.output


def test_build_writes_the_profile_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["profile", "build", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    names = {p.name for p in (tmp_path / "p").iterdir()}
    assert names == {
        "colorfilters",
        "dfilter_buttons",
        "dfilters",
        "dfilter_macros",
        "dmacros",
        "preferences",
        "recent",
    }

"""The generated Wireshark profile: every filter compiles on this tshark, the profile loads
cleanly, colours land on the right frames, and install/uninstall are exact."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from smtpdoc.catalog import load_catalog
from smtpdoc.cli import main
from smtpdoc.wireshark import install, profile
from smtpdoc.wireshark.lua import render_lua

from conftest import EXAMPLES, plugin_fields

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
    starttls = next(line for line in lines if 'smtpdoc.step_id == "starttls"@' in line)
    # #fcd9b0 * 257 per channel, then black text.
    assert starttls.endswith("@[64764,55769,45232][0,0,0]")
    assert [line.split("@")[1] for line in lines[:3]] == [f"smtpdoc finding: {s}" for s in ("critical", "warning", "notice")]
    assert all(line.count("@") == 3 for line in lines)  # no stray @ that would drop a rule


def test_every_step_has_a_native_fallback_rule_of_its_own_after_the_plugins() -> None:
    catalog = load_catalog()
    rules = profile.colour_rules(catalog, profile.finding_colours())
    plugin = [i for i, (_, f, _, _) in enumerate(rules) if "smtpdoc." in f]
    native = [(name, f, bg) for name, f, bg, _ in rules if "smtpdoc." not in f]
    assert max(plugin) < len(rules) - len(native)  # the fallbacks come last
    assert native == [(f"smtpdoc (no plugin) {s.title}", s.wireshark, s.colour) for s in catalog.steps]
    assert catalog.step("starttls").wireshark == 'smtp.command_line matches "(?i)^starttls"'


def test_buttons_are_the_walkthrough_steps_then_findings_and_fit_1366_px() -> None:
    catalog = load_catalog()
    buttons = profile.buttons(catalog)
    walkthrough = [s for s in catalog.steps if s.walkthrough is not None]
    assert [label for label, _, _ in buttons] == [s.button for s in walkthrough] + ["Findings"]
    assert buttons[0] == ("TCP handshake", profile.button_filter(walkthrough[0]), "TCP handshake")
    assert 'smtpdoc.step_id == "greeting" || (!smtpdoc && (smtp.rsp && tcp.seq == 1))' in [f for _, f, _ in buttons]
    assert profile.toolbar_width(label for label, _, _ in buttons) <= profile.TOOLBAR_PX
    # The estimate is not generous by accident: the 17 catalog titles would not fit.
    assert profile.toolbar_width(s.title for s in catalog.steps) > 2 * profile.TOOLBAR_PX


def test_macros_exist_in_the_4_0_and_the_4_2_format() -> None:
    files = profile.profile_files()
    assert '"smtpdoc_step","smtpdoc.step == $1"' in files["dfilter_macros"]
    assert '"smtpdoc_finding","smtpdoc.finding == \\x22$1\\x22"' in files["dfilter_macros"]
    assert '"smtpdoc_step" smtpdoc.step == $1' in files["dmacros"]
    assert "%Cus:smtpdoc.step_name:0:R" in files["preferences"]
    assert "smtpdoc.enabled: TRUE" in files["preferences"]
    assert "gui.filter_toolbar_show: TRUE" in files["recent"]


def _compiles(tshark: str, expression: str, plugin: bool) -> subprocess.CompletedProcess[str]:
    extra = ["-X", f"lua_script:{LUA}"] if plugin else []
    args = [tshark, *extra, "-r", str(_capture()), "-c", "1", "-Y", expression]
    return subprocess.run(args, capture_output=True, text=True, check=False)


@needs_tshark
def test_every_filter_compiles_on_tshark_and_the_native_ones_without_the_plugin() -> None:
    assert TSHARK is not None
    filters = _filters(profile.profile_files())
    assert len(filters) > 60
    failures = []
    for plugin in (True, False):
        chosen = [(where, f) for where, f in filters if plugin or "smtpdoc" not in f]
        # All at once (valid filters joined by || compile); one by one only to name a failure.
        if _compiles(TSHARK, " || ".join(f"({f})" for _, f in chosen), plugin).returncode == 0:
            continue
        for where, expression in chosen:
            done = _compiles(TSHARK, expression, plugin)
            if done.returncode != 0:
                failures.append(f"{where} (plugin {plugin}): {expression!r}: {done.stderr.strip()}")
    assert not failures, "\n".join(failures)
    assert _compiles(TSHARK, "smtpdoc.step_id", plugin=False).returncode == 2  # the check can fail


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


def _backgrounds(env: dict[str, str], capture: Path) -> list[str | None]:
    psml = subprocess.run(
        [str(TSHARK), "-C", "smtpdoc", "-r", str(capture), "--color", "-T", "psml"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    found = re.findall(r"<packet(?: foreground='#[0-9a-f]{6}' background='(#[0-9a-f]{6})')?>", psml)
    return [colour or None for colour in found]


@needs_tshark
def test_annotated_frames_get_their_step_colour(config: Path, annotated: Callable[[Path], Path]) -> None:
    copy = annotated(EXAMPLES / "starttls.pcapng")
    backgrounds = _backgrounds(_env(config), copy)
    fields = plugin_fields(str(TSHARK), copy, "smtpdoc.step_id", "smtpdoc.finding")
    catalog = load_catalog()
    order = [s.name for s in profile._plugin_order(catalog)]
    coloured = 0
    for frame, (names, findings) in fields.items():
        if names and not findings:
            first = min(names, key=order.index)
            assert backgrounds[frame - 1] == catalog.step(first).colour, frame
            coloured += 1
    assert coloured >= 20


@needs_tshark
def test_without_the_plugin_the_native_rules_colour_the_walkthrough(tmp_path: Path) -> None:
    profile.build_profile(tmp_path / "profiles" / "smtpdoc")  # the profile alone, no plugin
    env = {**os.environ, "WIRESHARK_CONFIG_DIR": str(tmp_path)}
    backgrounds = _backgrounds(env, EXAMPLES / "starttls.pcapng")
    catalog = load_catalog()
    colour = {s.name: s.colour for s in catalog.steps}
    # frames 1-3 handshake, 4 greeting, 6 EHLO, 8 its 250, 9 STARTTLS, 10 the 220, 11-13 TLS, 14+ data
    want = {1: "tcp_handshake", 3: "tcp_handshake", 4: "greeting", 6: "ehlo", 8: "ehlo_reply", 9: "starttls"}
    want |= {10: "starttls_reply", 11: "tls_handshake", 13: "tls_handshake", 14: "encrypted", 20: "encrypted"}
    assert {n: backgrounds[n - 1] for n in want} == {n: colour[name] for n, name in want.items()}


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


def test_uninstall_without_install_says_so_and_succeeds(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["profile", "uninstall"], env={"WIRESHARK_CONFIG_DIR": str(tmp_path)})
    assert result.exit_code == 0
    assert "nothing to remove" in result.output


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

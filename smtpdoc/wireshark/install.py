"""Install the profile and the Lua plugin into a personal Wireshark configuration, and undo it.

Paths come from the caller (the CLI reads the environment). A manifest inside the profile
folder lists everything install wrote, so uninstall removes exactly that and nothing else.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from smtpdoc.errors import SmtpdocError
from smtpdoc.wireshark.lua import render_lua
from smtpdoc.wireshark.profile import build_profile

MANIFEST = "smtpdoc-manifest.json"
PLUGIN_NAME = "smtpdoc.lua"


class InstallError(SmtpdocError):
    """The profile or plugin could not be installed or removed."""

    exit_code = 1


@dataclass(frozen=True)
class Installed:
    profile: Path
    plugin: Path
    manifest: Path


def personal_config_dir(env: dict[str, str], home: Path) -> Path:
    """Wireshark's personal configuration folder: $WIRESHARK_CONFIG_DIR, else XDG (man wireshark)."""
    if env.get("WIRESHARK_CONFIG_DIR"):
        return Path(env["WIRESHARK_CONFIG_DIR"])
    xdg = env.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else home / ".config"
    return base / "wireshark"


def personal_plugin_dir(env: dict[str, str], home: Path) -> Path:
    """Where the Lua plugin goes: the config folder's plugins/ when WIRESHARK_CONFIG_DIR isolates
    Wireshark (tests), else ~/.local/lib/wireshark/plugins ("Personal Lua Plugins")."""
    if env.get("WIRESHARK_CONFIG_DIR"):
        return Path(env["WIRESHARK_CONFIG_DIR"]) / "plugins"
    return home / ".local" / "lib" / "wireshark" / "plugins"


def _missing(path: Path) -> list[Path]:
    """`path` and those of its ancestors that do not exist yet (install will create them)."""
    out = []
    while not path.exists() and path != path.parent:
        out.append(path)
        path = path.parent
    return out


def install(config_dir: Path, plugin_dir: Path, name: str = "smtpdoc") -> Installed:
    """Write profiles/<name>/ and the plugin; record both in the manifest."""
    if not name or "/" in name or name.startswith("."):
        raise InstallError(f"'{name}' is not a usable profile name.")
    profile = config_dir / "profiles" / name
    created = [str(d) for d in {*_missing(profile), *_missing(plugin_dir)}]
    try:
        files = [str(p) for p in build_profile(profile)]
        plugin_dir.mkdir(parents=True, exist_ok=True)
        plugin = plugin_dir / PLUGIN_NAME
        plugin.write_text(render_lua(), encoding="utf-8")
        files.append(str(plugin))
        manifest = profile / MANIFEST
        files.append(str(manifest))
        manifest.write_text(json.dumps({"files": files, "created_dirs": created}, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InstallError(f"cannot install into '{config_dir}': {exc}") from exc
    return Installed(profile=profile, plugin=plugin, manifest=manifest)


def uninstall(config_dir: Path, name: str = "smtpdoc") -> list[Path]:
    """Remove what install wrote (per its manifest); the paths removed."""
    manifest = config_dir / "profiles" / name / MANIFEST
    try:
        record = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InstallError(f"no smtpdoc installation found: '{manifest}' does not exist.") from None
    except (OSError, ValueError) as exc:
        raise InstallError(f"cannot read '{manifest}': {exc}") from exc
    removed: list[Path] = []
    for entry in record.get("files", []):
        path = Path(entry)
        if path.is_file():
            path.unlink()
            removed.append(path)
    # Folders install created, deepest first, only when nothing else lives in them.
    for entry in sorted(record.get("created_dirs", []), key=len, reverse=True):
        path = Path(entry)
        if path.is_dir() and not any(path.iterdir()):
            os.rmdir(path)
            removed.append(path)
    return removed

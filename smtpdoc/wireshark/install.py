"""Install the profile and the Lua plugin into a personal Wireshark configuration, and undo it.

Paths come from the caller (the CLI reads the environment). A manifest inside the profile
folder lists everything install wrote, so uninstall removes exactly that and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_manifest(manifest: Path) -> dict[str, Any] | None:
    """The manifest's record, None when there is none; files as {path: sha256 or None}."""
    try:
        record = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InstallError(f"cannot read '{manifest}': {exc}") from exc
    files = record.get("files", {})
    if isinstance(files, list):  # manifests written before files carried their digest
        files = {entry: None for entry in files}
    return {"files": files, "created_dirs": list(record.get("created_dirs", []))}


def install(config_dir: Path, plugin_dir: Path, name: str = "smtpdoc") -> Installed:
    """Write profiles/<name>/ and the plugin; record both, with their digests, in the manifest."""
    if not name or "/" in name or name.startswith("."):
        raise InstallError(f"'{name}' is not a usable profile name.")
    profile = config_dir / "profiles" / name
    manifest = profile / MANIFEST
    earlier = _read_manifest(manifest) or {"created_dirs": []}
    # A second install keeps the folders the first one created, so uninstall still removes them.
    created = sorted({*earlier["created_dirs"], *(str(d) for d in (*_missing(profile), *_missing(plugin_dir)))})
    try:
        files = [p for p in build_profile(profile)]
        plugin_dir.mkdir(parents=True, exist_ok=True)
        plugin = plugin_dir / PLUGIN_NAME
        plugin.write_text(render_lua(), encoding="utf-8")
        files.append(plugin)
        record: dict[str, Any] = {"files": {str(f): _digest(f) for f in files}, "created_dirs": created}
        record["files"][str(manifest)] = None
        manifest.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InstallError(f"cannot install into '{config_dir}': {exc}") from exc
    return Installed(profile=profile, plugin=plugin, manifest=manifest)


@dataclass(frozen=True)
class Uninstalled:
    found: bool  # was there an installation (a manifest) at all
    removed: list[Path]
    kept: list[Path]  # files install wrote that were changed since: left alone


def uninstall(config_dir: Path, name: str = "smtpdoc") -> Uninstalled:
    """Remove what install wrote (per its manifest) and nobody changed since; idempotent."""
    profile = config_dir / "profiles" / name
    manifest = profile / MANIFEST
    record = _read_manifest(manifest)
    if record is None:
        return Uninstalled(found=False, removed=[], kept=[])
    removed: list[Path] = []
    kept: list[Path] = []
    try:
        for entry, digest in record["files"].items():
            path = Path(entry)
            if not path.is_file() or path == manifest:
                continue
            if digest is not None and _digest(path) != digest:
                kept.append(path)
                continue
            path.unlink()
            removed.append(path)
        manifest.unlink(missing_ok=True)
        removed.append(manifest)
        # Folders install created (and the profile's own), deepest first, only when empty.
        for entry in sorted({*record["created_dirs"], str(profile)}, key=len, reverse=True):
            path = Path(entry)
            if path.is_dir() and not any(path.iterdir()):
                os.rmdir(path)
                removed.append(path)
    except OSError as exc:
        raise InstallError(f"cannot remove the smtpdoc profile from '{config_dir}': {exc}") from exc
    return Uninstalled(found=True, removed=removed, kept=kept)

"""Shared fixtures: the real tshark, the example captures and the Zeek corpus."""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from smtpdoc.explain import Settings, explain_capture
from smtpdoc.model import Report, Session
from smtpdoc.tshark import Tshark, find_tshark

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATA = ROOT / "tests" / "data"
CORPUS = ROOT.parent / "shared" / "corpus"
ZEEK = CORPUS / "zeek"
NO_CORPUS = f"the shared corpus is not beside this checkout ({CORPUS}); CI always has it"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files instead of comparing")


@pytest.fixture(scope="session")
def tshark() -> Tshark:
    return find_tshark()


@functools.cache
def _tshark() -> Tshark:
    return find_tshark()


@functools.cache
def explained(capture: str, keylog: str | None = None, reveal: bool = False) -> tuple[Report, tuple[Session, ...]]:
    """Explain a capture through the real tshark (cached: many tests read the same file)."""
    settings = Settings(keylog=keylog, reveal_secrets=reveal)
    report, _outcome = explain_capture(capture, _tshark(), settings)
    sessions = tuple(report.sessions)
    return report, sessions


def sessions_of(path: Path, **kwargs: Any) -> tuple[Session, ...]:
    return explained(str(path), **kwargs)[1]


def as_dict(obj: Any) -> Any:
    return dataclasses.asdict(obj)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m smtpdoc ARGS` as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "smtpdoc", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
        check=False,
    )


def zeek_traces() -> list[Path]:
    if not ZEEK.is_dir():
        return []
    return sorted(p for p in (ZEEK / "traces").iterdir() if p.is_file())


def zeek_baselines() -> list[tuple[str, str]]:
    if not ZEEK.is_dir():
        return []
    rows = (ZEEK / "index.tsv").read_text().splitlines()[1:]
    return [tuple(r.split("\t")) for r in rows if r.strip()]  # type: ignore[misc]


def read_zeek_log(path: Path) -> list[dict[str, str]]:
    fields: list[str] = []
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"), strict=True)))
    return rows


# -- the Wireshark side: annotated copies and the thin Lua reader -----------------------------------
LUA = ROOT / "dissector" / "smtpdoc.lua"
PLUGIN_ON = ["-X", f"lua_script:{LUA}", "-o", "smtpdoc.enabled:TRUE"]


def keylog_for(capture: Path) -> str | None:
    keylog = capture.with_suffix(".keylog")
    return str(keylog) if keylog.exists() else None


def explained_with_keys(capture: Path) -> tuple[Session, ...]:
    """The capture explained with the key log beside it, if any (the cache key other tests use)."""
    keylog = keylog_for(capture)
    return sessions_of(capture, keylog=keylog) if keylog else sessions_of(capture)


def roundtrip_captures() -> list[Path]:
    """Every capture of tests/data, examples and the shared corpus."""
    found = sorted(DATA.glob("*.pcapng")) + sorted(EXAMPLES.glob("*.pcapng"))
    return found + zeek_traces()


@pytest.fixture(scope="session")
def annotated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """capture → its annotated copy, written once per test session from the cached explanation."""
    from smtpdoc.annotate import frame_comments, write_comments

    folder = tmp_path_factory.mktemp("annotated")
    made: dict[Path, Path] = {}

    def get(capture: Path) -> Path:
        if capture not in made:
            words, tokens, _count = frame_comments(explained_with_keys(capture))
            out = folder / f"{capture.parent.name}-{capture.name.split('.')[0]}.pcapng"
            write_comments(_tshark(), str(capture), str(out), {f: [w, tokens[f]] for f, w in words.items()})
            made[capture] = out
        return made[capture]

    return get


def plugin_fields(tshark_path: str, capture: Path, *fields: str) -> dict[int, list[list[str]]]:
    """frame → one list of values per field, read through dissector/smtpdoc.lua."""
    args = [tshark_path, "-n", *PLUGIN_ON, "-r", str(capture), "-T", "fields", "-e", "frame.number"]
    for name in fields:
        args += ["-e", name]
    done = subprocess.run(args, capture_output=True, text=True, check=True, timeout=300)
    assert "Lua:" not in done.stderr, done.stderr
    out: dict[int, list[list[str]]] = {}
    for line in done.stdout.splitlines():
        frame, *values = line.split("\t")
        out[int(frame)] = [v.split(",") if v else [] for v in values]
    return out


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium() -> str:
    """Debian's headless Chromium (the browser tests skip, with the reason, where there is none)."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"no headless Chromium found (looked for {', '.join(BROWSERS)}); apt-get install -y chromium")


def browse(page: Path, *extra: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    args = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)

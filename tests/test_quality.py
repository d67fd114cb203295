"""The code stays typed and lint-clean: mypy --strict and ruff, as the style guide asks."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_mypy_strict_is_clean() -> None:
    done = _run("mypy", "--strict", "smtpdoc")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_is_clean() -> None:
    done = _run("ruff", "check", "smtpdoc", "tests", "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def test_imports_point_one_way() -> None:
    """session/dialogue never import lxml, subprocess or rich; renderers never reach tshark."""
    forbidden = {
        "smtpdoc/session.py": ("lxml", "subprocess", "rich", "smtpdoc.tshark", "smtpdoc.pdml"),
        "smtpdoc/dialogue.py": ("lxml", "subprocess", "rich", "smtpdoc.tshark", "smtpdoc.pdml"),
        "smtpdoc/reassembly.py": ("lxml", "subprocess", "rich", "smtpdoc.tshark"),
        "smtpdoc/message_reading.py": ("lxml", "subprocess", "rich", "smtpdoc.tshark", "smtpdoc.pdml"),
        "smtpdoc/tls_phase.py": ("lxml", "subprocess", "rich", "smtpdoc.tshark", "smtpdoc.pdml"),
        "smtpdoc/judge.py": ("lxml", "subprocess", "rich", "smtpdoc.tshark", "smtpdoc.pdml"),
        "smtpdoc/render/terminal.py": ("smtpdoc.tshark", "smtpdoc.session", "smtpdoc.pdml"),
        "smtpdoc/render/json.py": ("smtpdoc.tshark", "smtpdoc.session", "smtpdoc.pdml"),
        "smtpdoc/render/html.py": ("smtpdoc.tshark", "smtpdoc.session", "smtpdoc.pdml"),
        "smtpdoc/render/markdown.py": ("smtpdoc.tshark", "smtpdoc.session", "smtpdoc.pdml"),
    }
    for path, names in forbidden.items():
        text = (ROOT / path).read_text()
        imports = [line for line in text.splitlines() if line.startswith(("import ", "from "))]
        for name in names:
            assert not any(f" {name}" in line for line in imports), f"{path} imports {name}"
    for module in (ROOT / "smtpdoc").rglob("*.py"):
        if module.name not in ("cli.py", "__main__.py"):
            assert "smtpdoc.cli" not in module.read_text(), f"{module} imports the CLI"
            assert "sys.exit" not in module.read_text(), f"{module} exits: only cli.py may"
